/**
 * Who may call what: the roles each OperatorService rpc admits (as its proto comment states) and
 * the audit action a refused call is recorded under. One table, checked by the compiler to cover
 * every rpc, so a new rpc does not build until someone decides its roles here.
 *
 * Trust boundary: this is the authorization policy itself; ./guard.ts enforces it before any
 * handler runs (deny by default: an rpc missing here cannot be served).
 */
import type { OperatorService, ServiceHandlers } from '@fleetkey/protocol';
import { OPERATOR_ROLES, type AuditAction, type OperatorRole } from '../store/index.js';

export type OperatorRpc = keyof (typeof OperatorService)['method'];
/** Handlers of some rpcs, all required: each rpc module returns its share of the service. */
export type RpcHandlers<K extends OperatorRpc> = Required<Pick<ServiceHandlers<typeof OperatorService>, K>>;

export interface RpcPolicy {
  /** The rpc's name as it appears in the proto, for audit details and messages. */
  readonly name: string;
  readonly roles: readonly OperatorRole[];
  /**
   * The action a refused call is audited under: the action the rpc would have recorded, or
   * 'operator.authenticate' for rpcs that change nothing (or whose actions arrive with issue 6).
   */
  readonly deniedAction: AuditAction;
}

const ANY_ROLE: readonly OperatorRole[] = OPERATOR_ROLES;

const policy = (name: string, roles: readonly OperatorRole[], deniedAction: AuditAction = 'operator.authenticate'): RpcPolicy =>
  Object.freeze({ name, roles: Object.freeze([...roles]), deniedAction });

/** The roles of every rpc, from proto/fleetkey/v1/operator.proto. */
export const RPC_POLICIES: Readonly<Record<OperatorRpc, RpcPolicy>> = Object.freeze({
  createFleet: policy('CreateFleet', ['admin'], 'fleet.create'),
  listFleets: policy('ListFleets', ANY_ROLE),
  createOperator: policy('CreateOperator', ['admin'], 'operator.create'),
  listOperators: policy('ListOperators', ['admin', 'auditor']),
  revokeOperator: policy('RevokeOperator', ['admin'], 'operator.revoke'),
  createEnrollmentToken: policy('CreateEnrollmentToken', ['admin', 'operator', 'factory'], 'token.create'),
  listEnrollmentTokens: policy('ListEnrollmentTokens', ['admin', 'operator', 'factory', 'auditor']),
  revokeEnrollmentToken: policy('RevokeEnrollmentToken', ['admin', 'operator', 'factory'], 'token.revoke'),
  listDevices: policy('ListDevices', ['admin', 'operator', 'auditor']),
  getDevice: policy('GetDevice', ['admin', 'operator', 'auditor']),
  revokeDevice: policy('RevokeDevice', ['admin', 'operator'], 'device.revoke'),
  rotateKeys: policy('RotateKeys', ['admin', 'operator'], 'rotation.start'),
  lockdown: policy('Lockdown', ['admin', 'operator'], 'command.issue'),
  requestLift: policy('RequestLift', ['admin', 'operator'], 'lift.request'),
  approveLift: policy('ApproveLift', ['admin', 'operator'], 'lift.approve'),
  listLiftRequests: policy('ListLiftRequests', ['admin', 'operator', 'auditor']),
  getLockdownStatus: policy('GetLockdownStatus', ['admin', 'operator', 'auditor']),
  requestDestroyEpoch: policy('RequestDestroyEpoch', ['admin'], 'approval.request'),
  requestDeleteFleet: policy('RequestDeleteFleet', ['admin'], 'approval.request'),
  createBackup: policy('CreateBackup', ['admin']),
  verifyBackup: policy('VerifyBackup', ['admin', 'auditor']),
  listAuditRecords: policy('ListAuditRecords', ['admin', 'auditor']),
  verifyAudit: policy('VerifyAudit', ['admin', 'auditor']),
  getHealth: policy('GetHealth', ANY_ROLE),
});
