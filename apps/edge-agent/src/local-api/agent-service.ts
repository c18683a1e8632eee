/**
 * The handlers of AgentService (agent.proto), the local API robot apps call: Seal/Open fleet
 * messages, Sign/Verify with the device identity, Encrypt/Decrypt local data with a storage key,
 * GetStatus, and OpenChannel (written elsewhere, wrapped here with the same checks).
 *
 * Trust boundary: requests come from local processes that could open the socket. Every call is
 * first admitted by access.ts (token, rate limit); every cryptographic call then asks the core
 * whether the robot is locked before it touches a key. Keys stay in the agent: apps get
 * ciphertext, plaintext, signatures and public facts back, and every key copy is zeroized once
 * used. Errors are typed FleetkeyErrors; the gRPC adapter maps them to statuses and the
 * `fleetkey-error-code` trailer.
 */
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import type { DescMessage } from '@bufbuild/protobuf';
import { openEnvelope, readEnvelopeHeader, sealEnvelope, verifySignature, type EnvelopeContext, type SignatureAlgorithm, type ValidatedDevice } from '@fleetkey/crypto';
import { InvalidArgument, formatKeyId, isFleetkeyError, type FleetkeyErrorCode } from '@fleetkey/key-types';
import { KeyNotFound } from '@fleetkey/keystore';
import {
  keyStateToProto,
  signatureAlgorithmFromProto,
  signatureAlgorithmToProto,
  type AgentService,
  type BidiStreamHandler,
  type CallContext,
  type OpenChannelRequestSchema,
  type OpenChannelResponseSchema,
  type ServiceHandlers,
  type UnaryHandler,
} from '@fleetkey/protocol';
import { AGENT_KEY_PROVIDER, associatedDataDigest, type AgentCore } from '../runtime/agent-core.js';
import { createAccessControl, type AccessControl } from './access.js';
import { MAX_SEALED_PLAINTEXT_BYTES, openFleetMessage, sealFleetMessage, signWithIdentity } from './sealed-message.js';

/** The storage key of an Encrypt without `key_name`. */
export const DEFAULT_STORAGE_KEY_NAME = 'default';
/** The envelope context purpose of local data encrypted with a storage key. */
export const STORAGE_PURPOSE = 'storage';
/** GetStatusResponse.epochs holds at most this many (agent.proto). */
export const MAX_STATUS_EPOCHS = 32;
/** GetStatusResponse.lock_reason and agent_version bounds (agent.proto), in UTF-8 bytes. */
export const MAX_LOCK_REASON_BYTES = 512;
export const MAX_AGENT_VERSION_BYTES = 64;

// AES-GCM tag (16 bytes) on top of the largest plaintext Encrypt takes.
const MAX_STORAGE_CIPHERTEXT_BYTES = MAX_SEALED_PLAINTEXT_BYTES + 16;

export type OpenChannelHandler = BidiStreamHandler<typeof OpenChannelRequestSchema, typeof OpenChannelResponseSchema>;

/** A refused call, as logged: never a payload, a token or a key. */
export interface Refusal {
  /** `/fleetkey.v1.AgentService/Seal`. */
  readonly method: string;
  /** The app when the call authenticated; undefined when it did not. */
  readonly app: string | undefined;
  readonly code: FleetkeyErrorCode;
}

export interface AgentServiceOptions {
  /** GetStatusResponse.agent_version, at most 64 bytes. */
  readonly agentVersion: string;
  /** Default: no tokens (the socket permissions are the only gate) and the default rate limit. */
  readonly access?: AccessControl;
  /** The OpenChannel implementation; absent, the rpc answers UNIMPLEMENTED. */
  readonly openChannel?: OpenChannelHandler;
  /** Called for every call that ends in a FleetkeyError (access, lock, a refused message...). */
  readonly onRefused?: (refusal: Refusal) => void;
}

/** Cuts `text` to at most `max` UTF-8 bytes without splitting a character. */
function cutUtf8(text: string, max: number): string {
  if (Buffer.byteLength(text, 'utf8') <= max) return text;
  let out = '';
  let bytes = 0;
  for (const char of text) {
    const size = Buffer.byteLength(char, 'utf8');
    if (bytes + size > max) break;
    out += char;
    bytes += size;
  }
  return out;
}

function storageContext(deviceId: string, associatedData: Uint8Array): EnvelopeContext {
  return { device: deviceId, purpose: STORAGE_PURPOSE, aad: associatedDataDigest(associatedData) };
}

/** Outcomes of a certificate check that make a signature "not valid" rather than an error. */
const UNTRUSTED_CERTIFICATE: readonly FleetkeyErrorCode[] = ['CERTIFICATE_INVALID', 'CERTIFICATE_REVOKED', 'PEER_REFUSED'];

/**
 * The AgentService handlers over `core`.
 * @throws RangeError when `agentVersion` is longer than 64 bytes.
 */
export function agentServiceHandlers(core: AgentCore, options: AgentServiceOptions): ServiceHandlers<typeof AgentService> {
  if (typeof options.agentVersion !== 'string' || Buffer.byteLength(options.agentVersion, 'utf8') > MAX_AGENT_VERSION_BYTES) {
    throw new RangeError(`"agentVersion" expected a string of at most ${MAX_AGENT_VERSION_BYTES} bytes`);
  }
  const access = options.access ?? createAccessControl();
  const agentVersion = options.agentVersion;

  function refused(context: CallContext, app: string | undefined, error: unknown): void {
    if (isFleetkeyError(error)) options.onRefused?.({ method: context.method, app, code: error.code });
  }

  /** Admits the call, then runs `handler`; reports the refusal of every call that fails typed. */
  function guarded<I extends DescMessage, O extends DescMessage>(handler: UnaryHandler<I, O>): UnaryHandler<I, O> {
    return async (request, context) => {
      let app: string | undefined;
      try {
        // Precondition: no handler runs for a call that access.ts did not admit.
        app = access.authenticate(context.metadata);
        access.consume(app);
        return await handler(request, context);
      } catch (error) {
        refused(context, app, error);
        throw error;
      }
    };
  }

  const handlers: ServiceHandlers<typeof AgentService> = {
    seal: guarded(async (request) => {
      // Precondition: every cryptographic rpc is refused while the robot is locked.
      core.assertUnlocked();
      const sealed = await sealFleetMessage(core, {
        plaintext: request.plaintext,
        associatedData: request.associatedData,
        useGroupKey: request.useGroupKey,
        purpose: request.purpose,
      });
      return { envelope: sealed.message, key: { keyId: sealed.keyId, version: sealed.version } };
    }),

    open: guarded(async (request) => {
      core.assertUnlocked();
      const opened = await openFleetMessage(core, { message: request.envelope, associatedData: request.associatedData, purpose: request.purpose });
      return {
        plaintext: opened.plaintext,
        key: { keyId: opened.keyId, version: opened.version },
        keyState: keyStateToProto(opened.state),
        senderDeviceId: opened.senderDeviceId,
        sentAt: timestampFromDate(opened.sentAt),
      };
    }),

    sign: guarded(async (request) => {
      core.assertUnlocked();
      const signed = await signWithIdentity(core, request.data);
      return { signature: signed.signature, signatureAlgorithm: signatureAlgorithmToProto(signed.algorithm), certificate: core.certificate() };
    }),

    verify: guarded((request) => {
      core.assertUnlocked();
      let algorithm: SignatureAlgorithm;
      try {
        algorithm = signatureAlgorithmFromProto(request.signatureAlgorithm);
      } catch (cause) {
        // A request without a scheme is the caller's mistake, not a signature that failed.
        throw new InvalidArgument('"signature_algorithm" is unspecified or unknown', { cause });
      }
      const certificate = request.certificate.byteLength === 0 ? core.certificate() : request.certificate;
      let signer: ValidatedDevice;
      try {
        // Precondition: a signature counts only under a certificate of this fleet, valid now, not revoked.
        signer = core.validatePeerCertificate(certificate);
      } catch (error) {
        if (UNTRUSTED_CERTIFICATE.some((code) => isFleetkeyError(error, code))) return { valid: false };
        throw error;
      }
      let valid: boolean;
      try {
        valid = verifySignature(signer.publicKey, algorithm, request.data, request.signature);
      } catch {
        // The scheme does not fit the certificate's key: that signature cannot be valid.
        valid = false;
      }
      return valid ? { valid: true, signerDeviceId: signer.deviceId } : { valid: false };
    }),

    encrypt: guarded((request) => {
      core.assertUnlocked();
      const storage = core.storageKey(request.keyName === '' ? DEFAULT_STORAGE_KEY_NAME : request.keyName);
      try {
        const ciphertext = sealEnvelope({
          key: storage.key,
          provider: AGENT_KEY_PROVIDER,
          keyId: storage.keyId,
          keyVersion: storage.version,
          plaintext: request.plaintext,
          context: storageContext(core.identity.deviceId, request.associatedData),
        });
        return { ciphertext, key: { keyId: storage.keyId, version: storage.version } };
      } finally {
        storage.key.fill(0);
      }
    }),

    decrypt: guarded((request) => {
      core.assertUnlocked();
      const header = readEnvelopeHeader(request.ciphertext, { maxCiphertextLength: MAX_STORAGE_CIPHERTEXT_BYTES });
      // Precondition: only envelopes this agent made with a storage key of its own are opened.
      if (header.provider !== AGENT_KEY_PROVIDER) throw new KeyNotFound('the ciphertext was not made by this agent');
      const storage = core.storageKeyFor(header.keyId, header.keyVersion);
      try {
        const plaintext = openEnvelope(request.ciphertext, storage.key, storageContext(core.identity.deviceId, request.associatedData), {
          maxCiphertextLength: MAX_STORAGE_CIPHERTEXT_BYTES,
        });
        return { plaintext, key: { keyId: storage.keyId, version: storage.version } };
      } finally {
        storage.key.fill(0);
      }
    }),

    // Answers while locked: an app must be able to learn why everything else is refused.
    getStatus: guarded(() => {
      const { fleet, group, deviceId } = core.identity;
      const lock = core.lockState();
      const contact = core.contact();
      const epochs = core.state
        .epochs()
        .map((epoch) => ({ keyId: formatKeyId(epoch.keyId), version: epoch.keyId.version, state: epoch.state, notAfter: epoch.notAfter }))
        .sort((a, b) => (a.keyId === b.keyId ? b.version - a.version : a.keyId < b.keyId ? -1 : 1))
        .slice(0, MAX_STATUS_EPOCHS);
      return {
        provisioned: true,
        fleet,
        group: group ?? '',
        deviceId,
        certificateNotAfter: timestampFromDate(core.certificateNotAfter()),
        epochs: epochs.map((epoch) => ({
          key: { keyId: epoch.keyId, version: epoch.version },
          state: keyStateToProto(epoch.state),
          ...(epoch.notAfter === undefined ? {} : { notAfter: timestampFromDate(epoch.notAfter) }),
        })),
        locked: lock.locked,
        lockReason: lock.locked ? cutUtf8(lock.reason, MAX_LOCK_REASON_BYTES) : '',
        ...(contact.lastContact === null ? {} : { lastContact: timestampFromDate(contact.lastContact) }),
        ...(contact.offlineSince === null ? {} : { offlineSince: timestampFromDate(contact.offlineSince) }),
        agentVersion,
      };
    }),
  };

  const openChannel = options.openChannel;
  if (openChannel === undefined) return handlers;
  return {
    ...handlers,
    openChannel: async (requests, writer, context) => {
      let app: string | undefined;
      try {
        app = access.authenticate(context.metadata);
        access.consume(app);
        // A channel authenticates with the identity key: refused while locked like any crypto rpc.
        core.assertUnlocked();
        await openChannel(requests, writer, context);
      } catch (error) {
        refused(context, app, error);
        throw error;
      }
    },
  };
}
