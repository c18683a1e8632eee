/**
 * What the robot tells the controller: acknowledgements (messages.proto Ack) and status reports
 * (DeviceStatusReport), built from the core's state and encoded within the proto's limits so the
 * controller never has to refuse them.
 *
 * Trust boundary: outgoing; details are the link's own short texts, never key material.
 */
import { create } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import { formatKeyId } from '@fleetkey/key-types';
import { AckSchema, DeviceStatusReportSchema, keyStateToProto, type Ack, type AckKind, type AckOutcome, type DeviceStatusReport } from '@fleetkey/protocol';
import type { AgentCore } from '../runtime/agent-core.js';

/** Ack.detail's limit (messages.proto). */
export const MAX_ACK_DETAIL_BYTES = 512;
/** DeviceStatusReport.agent_version's limit. */
export const MAX_AGENT_VERSION_BYTES = 64;
/** DeviceStatusReport.epochs' limit. */
export const MAX_REPORTED_EPOCHS = 32;

function truncateUtf8(text: string, maxBytes: number): string {
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.byteLength <= maxBytes) return text;
  // Cut on a character boundary: drop a partial sequence at the end.
  let end = maxBytes;
  while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end -= 1;
  return bytes.subarray(0, end).toString('utf8');
}

export interface AckInput {
  readonly kind: AckKind;
  readonly sequence: bigint;
  readonly outcome: AckOutcome;
  readonly requestId?: string;
  readonly detail?: string;
}

/** @throws RangeError for a sequence below 1 (nothing the controller issued). */
export function buildAck(core: AgentCore, input: AckInput): Ack {
  if (input.sequence < 1n) throw new RangeError('"sequence" expected a positive sequence');
  return create(AckSchema, {
    fleet: core.identity.fleet,
    deviceId: core.identity.deviceId,
    kind: input.kind,
    sequence: input.sequence,
    requestId: input.requestId ?? '',
    outcome: input.outcome,
    detail: truncateUtf8(input.detail ?? '', MAX_ACK_DETAIL_BYTES),
    ackedAt: timestampFromMs(core.now().getTime()),
  });
}

export function buildStatusReport(core: AgentCore, agentVersion: string): DeviceStatusReport {
  const sequences = core.state.sequences();
  const epochs = core.state
    .epochs()
    .slice(-MAX_REPORTED_EPOCHS)
    .map((epoch) => ({
      key: { keyId: formatKeyId(epoch.keyId), version: epoch.keyId.version },
      state: keyStateToProto(epoch.state),
      ...(epoch.notAfter === undefined ? {} : { notAfter: timestampFromMs(epoch.notAfter.getTime()) }),
    }));
  return create(DeviceStatusReportSchema, {
    fleet: core.identity.fleet,
    deviceId: core.identity.deviceId,
    reportedAt: timestampFromMs(core.now().getTime()),
    agentVersion: truncateUtf8(agentVersion, MAX_AGENT_VERSION_BYTES),
    locked: core.isLocked(),
    lastCommandSequence: sequences.command,
    lastKeyBundleSequence: BigInt(sequences.keyBundle),
    lastRevocationSequence: core.revocationSequence(),
    epochs,
    certificateNotAfter: timestampFromMs(core.certificateNotAfter().getTime()),
  });
}
