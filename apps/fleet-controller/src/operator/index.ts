/**
 * Public surface of the controller's operator API: the service factory, its dependency ports,
 * and the authentication / authorization helpers other transports (e.g. an HTTP admin endpoint)
 * can reuse.
 *
 * Trust boundary: see ./operator-service.ts and ./guard.ts.
 */
export { createOperatorService } from './operator-service.js';
export type { ComponentHealthReport, CreateFleetParams, FleetAdministration, FleetDescription, OperatorServiceDeps } from './deps.js';
export {
  authenticateOperator,
  authorize,
  authorizeAllFleets,
  authorizeFleet,
  authorizeRole,
  checkOperatorCredential,
  mayActOnFleet,
  parseBearerCredential,
  scopeWithin,
  visibleFleets,
  AUTHORIZATION_METADATA_KEY,
  MAX_AUTHORIZATION_LENGTH,
  type CredentialCheck,
  type CredentialFailure,
} from './auth.js';
export { RPC_POLICIES, type OperatorRpc, type RpcPolicy } from './policy.js';
export { ANONYMOUS_ACTOR } from './guard.js';
export { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, MAX_PAGE_TOKEN_LENGTH } from './paging.js';
export {
  DEFAULT_ENROLLMENT_TTL_MS,
  MAX_ENROLLMENT_TTL_MS,
  MIN_ENROLLMENT_TTL_MS,
  MAX_ENROLLMENT_TOKEN_COUNT,
} from './requests.js';
