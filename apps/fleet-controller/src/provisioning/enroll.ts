/**
 * ProvisioningService.Enroll (DESIGN.md flow 1): an enrollment token and a CSR in, a device
 * certificate signed by the fleet CA key in the KMS, the CA chain, the emergency key to pin, the
 * first key bundle and the addresses out.
 *
 * Order matters: the token is burnt first and on its own (not inside the enrollment's
 * transaction), so a request that fails afterwards — bad CSR, refused algorithm, taken id — still
 * uses the token up; then everything that changes state (the device, the token's device, the
 * audit record) commits in one transaction.
 *
 * Trust boundary: the request is untrusted; the token is a secret that is hashed at once and
 * never logged or audited; the CSR is verified (proof of possession, key policy) before its key
 * is used; the CSR's own names are ignored — the controller names the device.
 */
import { create } from '@bufbuild/protobuf';
import {
  EnrollmentTokenRejected,
  InvalidArgument,
  isFleetkeyError,
  type FleetkeyErrorCode,
} from '@fleetkey/key-types';
import type { VerifiedCsr } from '@fleetkey/crypto';
import { EnrollResponseSchema, type EnrollRequest, type EnrollResponse } from '@fleetkey/protocol';
import { loadRevocationList } from '../fleets/settings.js';
import type { ControllerCore } from '../core/core.js';
import { MAX_TOKEN_LENGTH, RecordExists, TOKEN_PREFIX, hashToken, type BurnFailureReason, type CommandScope, type EnrollmentToken } from '../store/index.js';
import { emergencyKeyOf, issueFleetDeviceCertificate, keyBundleFor, verifyDeviceCsr } from './device-keys.js';
import { isValidSerial, serialMatches } from './serial-pattern.js';


export interface EnrollmentDeps {
  readonly core: ControllerCore;
  /** Where devices reach the controller (gRPC, `host:port`) and the broker (`mqtts://host:port`). */
  readonly advertisedAddresses: () => { readonly controller: string; readonly broker: string };
  readonly deviceCertificateValidityMs?: number;
  /** Verifies the CSR (default: inline; serve uses a CsrVerifierPool on a spare core). */
  readonly verifyCsr?: (csr: Uint8Array) => Promise<VerifiedCsr>;
  /** Told of every outcome (metrics); never given the token. */
  readonly onOutcome?: (fleetId: string | undefined, result: 'ok' | FleetkeyErrorCode | 'internal') => void;
}

const REJECTION_OF_BURN: Readonly<Record<BurnFailureReason, 'unknown' | 'used' | 'expired' | 'revoked'>> = Object.freeze({
  unknown: 'unknown',
  used: 'used',
  expired: 'expired',
  revoked: 'revoked',
});

function errorCodeOf(error: unknown): FleetkeyErrorCode | null {
  return isFleetkeyError(error) ? error.code : null;
}

/** Hashes the presented token; a token of the wrong shape is simply unknown (it cannot exist). */
function presentedTokenHash(token: string): Uint8Array | undefined {
  if (token.length === 0 || token.length > MAX_TOKEN_LENGTH || !token.startsWith(TOKEN_PREFIX.enrollment)) return undefined;
  return hashToken(token);
}

/**
 * The command sequence a new robot starts after: the fleet's current one, or — while a lockdown
 * that concerns the robot is in force — just before the oldest such lockdown, so the robot
 * applies it (from the retained topic or the command stream) instead of starting unlocked.
 */
async function commandSequenceFor(core: ControllerCore, fleetId: string, groupId: string | null, deviceId: string): Promise<number> {
  // A lockdown of scope S is in force when the latest LOCKDOWN-or-LIFT of exactly S is a LOCKDOWN
  // (../commands/lockdown-state.ts); only the scopes that concern this robot are looked at.
  const scopes: CommandScope[] = [{ kind: 'fleet' }, { kind: 'device', deviceId }, ...(groupId === null ? [] : [{ kind: 'group' as const, groupId }])];
  const latest = await Promise.all(scopes.map((scope) => core.repository.latestCommandFor(fleetId, scope, ['lockdown', 'lift'])));
  const inForce = latest.filter((command) => command?.action === 'lockdown').map((command) => command!.sequence);
  if (inForce.length === 0) return core.repository.currentSequence(fleetId);
  return Math.min(...inForce) - 1;
}

export async function enroll(deps: EnrollmentDeps, request: EnrollRequest): Promise<EnrollResponse> {
  const { core } = deps;
  const deviceId = request.deviceId;
  if (deviceId === '') throw new InvalidArgument('device_id is required');
  if (request.csr.length === 0) throw new InvalidArgument('csr is required');
  if (request.serialNumber !== '' && !isValidSerial(request.serialNumber)) throw new InvalidArgument('serial_number must be printable ASCII without spaces');

  // The burn and its audit record commit together, in a transaction of their own: the burn
  // stands whatever happens to the enrollment afterwards.
  const tokenHash = presentedTokenHash(request.enrollmentToken);
  const burn = await core.repository.transaction(async (tx) => {
    const result = tokenHash === undefined ? ({ ok: false, reason: 'unknown' } as const) : await tx.burnEnrollmentToken(tokenHash, core.clock());
    await tx.audit.append(
      result.ok
        ? { actor: `device:${deviceId}`, action: 'token.burn', fleetId: result.token.fleetId, deviceId, result: 'ok', details: { enrollment: result.token.id } }
        : { actor: `device:${deviceId}`, action: 'token.burn', deviceId, result: 'denied', errorCode: 'ENROLLMENT_TOKEN_REJECTED', details: { reason: result.reason } },
    );
    return result;
  });
  if (!burn.ok) {
    deps.onOutcome?.(undefined, 'ENROLLMENT_TOKEN_REJECTED');
    throw new EnrollmentTokenRejected(REJECTION_OF_BURN[burn.reason]);
  }
  const token = burn.token;

  try {
    const response = await enrollWithToken(deps, request, token);
    deps.onOutcome?.(token.fleetId, 'ok');
    return response;
  } catch (error) {
    const denied = isFleetkeyError(error);
    await core.repository.audit
      .append({
        actor: `device:${deviceId}`,
        action: 'device.enroll',
        fleetId: token.fleetId,
        deviceId,
        result: denied ? 'denied' : 'error',
        errorCode: errorCodeOf(error),
        details: { enrollment: token.id },
      })
      .catch(() => undefined);
    deps.onOutcome?.(token.fleetId, errorCodeOf(error) ?? 'internal');
    throw error;
  }
}

async function enrollWithToken(deps: EnrollmentDeps, request: EnrollRequest, token: EnrollmentToken): Promise<EnrollResponse> {
  const { core } = deps;
  const deviceId = request.deviceId;
  if (token.serialPattern !== null && !serialMatches(token.serialPattern, request.serialNumber)) {
    throw new EnrollmentTokenRejected('out-of-scope', 'the serial number does not match the one the token is bound to');
  }
  const csr = deps.verifyCsr === undefined ? verifyDeviceCsr(request.csr) : await deps.verifyCsr(request.csr);
  if ((await core.repository.getDevice(token.fleetId, deviceId)) !== undefined) {
    throw new RecordExists(`device ${deviceId} is already enrolled in fleet ${token.fleetId}`);
  }

  const keys = await core.fleetKeys(token.fleetId);
  const certificate = await issueFleetDeviceCertificate(core, keys, { deviceId, publicKey: csr.publicKey }, deps.deviceCertificateValidityMs);

  // Built before the device is recorded: a failure here leaves no device without keys.
  const keyBundle = await keyBundleFor(core, { fleetId: token.fleetId, groupId: token.groupId, deviceId, publicKey: csr.publicKey });
  const [emergencyKey, revocationList] = await Promise.all([emergencyKeyOf(core, keys), loadRevocationList(core.repository, token.fleetId)]);

  await core.repository.transaction(async (tx) => {
    await tx.createDevice({
      fleetId: token.fleetId,
      deviceId,
      groupId: token.groupId,
      serial: request.serialNumber,
      certificateDer: certificate.der,
      certificateSerial: certificate.serialNumber,
      keyAlgorithm: csr.keyAlgorithm,
    });
    await tx.setEnrollmentTokenDevice(token.fleetId, token.id, deviceId);
    await tx.audit.append({
      actor: `device:${deviceId}`,
      action: 'device.enroll',
      fleetId: token.fleetId,
      deviceId,
      keyRef: `fleet-ca:${keys.caKeyId}`,
      result: 'ok',
      details: { enrollment: token.id, certificateSerial: certificate.serialNumber, algorithm: csr.keyAlgorithm },
    });
  });

  const addresses = deps.advertisedAddresses();
  return create(EnrollResponseSchema, {
    certificate: certificate.der,
    caChain: [keys.caCertificateDer],
    emergencyKey,
    keyBundle,
    controllerAddress: addresses.controller,
    brokerAddress: addresses.broker,
    fleet: token.fleetId,
    group: token.groupId ?? '',
    deviceId,
    commandSequence: BigInt(await commandSequenceFor(core, token.fleetId, token.groupId, deviceId)),
    ...(revocationList === undefined ? {} : { revocationList }),
    serverCaCertificates: [core.controllerKeys.tlsCaCertificateDer],
  });
}
