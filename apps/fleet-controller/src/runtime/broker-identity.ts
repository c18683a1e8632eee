/**
 * The TLS identities an external MQTT broker needs, all from the controller TLS CA in the KMS (the
 * CA that signs the controller's own server certificate and that robots received at enrollment):
 *
 * - the controller's client certificate (`serve --mqtt-url`): subject
 *   `O=fleetkey-controller, CN=fleet-controller`, clientAuth, valid CONTROLLER_CLIENT_CERTIFICATE_VALIDITY_MS,
 *   its key made in memory at start and never written anywhere; renewed at half-life;
 * - the broker's server certificate and key (`fleet-controller mqtt-credentials`), written to files
 *   for the broker together with the CA bundles its two listeners verify clients against: every
 *   fleet CA (robots) and the controller TLS CA (the controller).
 *
 * Why the controller's identity cannot be taken by a robot: Mosquitto only sees the certificate's
 * CN, and a robot's CN is its device id, which could be `fleet-controller`. deploy/mosquitto/ keeps
 * the two apart by listener: the robots' listener trusts only fleet CAs and grants only the
 * device patterns; the controller's listener trusts only the TLS CA, whose other certificates
 * (server certificates) carry serverAuth alone and are refused for client authentication. And the
 * controller's client id (CONTROLLER_MQTT_CLIENT_ID) is one no robot can be given.
 *
 * Trust boundary: the CA key stays in the KMS (a Signer). Private keys made here exist in
 * plaintext only in memory (client) or in the one output file mode 0600 (broker); the PEM buffers
 * this module makes are zeroized once the TLS context or file holds them. Each issued certificate
 * is audited (`key.sign`, with its serial and purpose).
 */
import { X509Certificate } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { createSecureContext, type SecureContext } from 'node:tls';
import type { KmsEnvironment } from '@fleetkey/kms-core';
import { generateKeyPair, issueDeviceCertificate, issueServerCertificate } from '@fleetkey/crypto';
import { ControllerCore } from '../core/core.js';
import { loadControllerKeys } from '../core/controller-keys.js';
import { SERVER_CERTIFICATE_VALIDITY_MS, derToPem } from '../core/server-tls.js';
import { CONTROLLER_TLS_CA_NAME } from '../datadir/init.js';
import { dataDirPaths, readControllerSettings } from '../datadir/layout.js';
import { openDataDirKms } from '../datadir/open-kms.js';
import { CLOCK_SKEW_MS } from '../fleets/create-fleet.js';
import { openSqliteRepository } from '../store/index.js';
import type { Logger } from './logger.js';
import { replaceFile } from '../datadir/replace-file.js';

/** The CN of the controller's client certificate: the broker's username (controller.acl's `user`). */
export const CONTROLLER_MQTT_IDENTITY = 'fleet-controller';
/**
 * The controller's MQTT client id. Mosquitto has one client-id namespace across listeners and
 * [MQTT-3.1.4-2] lets a newcomer take over a session by id; the robots' listener forces a robot's
 * client id to its device id, so the controller's id must be one no device id can be: `:` is
 * outside the identifier grammar (libs/key-types identifiers.ts).
 */
export const CONTROLLER_MQTT_CLIENT_ID = 'fleetkey:controller';
/** Short: the key lives only in the controller's memory and is renewed while it runs. */
export const CONTROLLER_CLIENT_CERTIFICATE_VALIDITY_MS = 7 * 86_400_000;

/** The files `mqtt-credentials` writes, by role. */
export const BROKER_CREDENTIAL_FILES = Object.freeze({
  certificate: 'broker.pem',
  privateKey: 'broker-key.pem',
  fleetCas: 'fleet-cas.pem',
  controllerCa: 'controller-ca.pem',
});

interface IssuedIdentity {
  readonly certificateChainPem: string;
  /** PKCS#8 PEM; the caller zeroizes it. */
  readonly privateKeyPem: Buffer;
  readonly serialNumber: string;
  readonly notAfter: Date;
}

async function issueClientIdentity(core: ControllerCore, now: number): Promise<IssuedIdentity> {
  const keys = core.controllerKeys;
  const pair = await generateKeyPair('ECDSA_P256');
  // The device-certificate profile under the TLS CA: O is the TLS CA's name, clientAuth is in the EKU.
  const issued = await issueDeviceCertificate({
    issuerSigner: await core.signer(keys.tlsCaKeyId),
    issuerCertificate: keys.tlsCaCertificateDer,
    publicKey: pair.publicKey,
    fleet: CONTROLLER_TLS_CA_NAME,
    deviceId: CONTROLLER_MQTT_IDENTITY,
    notBefore: new Date(now - CLOCK_SKEW_MS),
    notAfter: new Date(now + CONTROLLER_CLIENT_CERTIFICATE_VALIDITY_MS),
  });
  const leaf = new X509Certificate(issued.der);
  return {
    certificateChainPem: derToPem(issued.der) + derToPem(keys.tlsCaCertificateDer),
    privateKeyPem: Buffer.from(pair.privateKey.export({ type: 'pkcs8', format: 'pem' })),
    serialNumber: leaf.serialNumber.toLowerCase(),
    notAfter: new Date(leaf.validTo),
  };
}

export interface ControllerTlsSourceOptions {
  readonly core: ControllerCore;
  readonly clock: () => number;
  readonly logger: Logger;
}

/**
 * The `secureContext` of ./external-broker.ts: the controller's client certificate and key, and the
 * controller TLS CA as the only CA that verifies the broker. A certificate is issued (and audited)
 * on the first call and again once half of its validity has passed; concurrent calls share one
 * issuance.
 * @throws (rejects with) KMS and store errors of an issuance; the next call tries again.
 */
export function controllerTlsSource(options: ControllerTlsSourceOptions): () => Promise<SecureContext> {
  const { core, clock, logger } = options;
  const brokerCa = derToPem(core.controllerKeys.tlsCaCertificateDer);
  let current: { context: SecureContext; renewAt: number } | undefined;
  let issuing: Promise<SecureContext> | undefined;

  async function issue(): Promise<SecureContext> {
    const now = clock();
    const identity = await issueClientIdentity(core, now);
    try {
      const context = createSecureContext({ key: identity.privateKeyPem, cert: identity.certificateChainPem, ca: brokerCa, minVersion: 'TLSv1.2' });
      await core.repository.audit.append({
        actor: 'system',
        action: 'key.sign',
        keyRef: `controller-tls-ca:${core.controllerKeys.tlsCaKeyId}`,
        result: 'ok',
        details: { purpose: 'mqtt-client-certificate', certificateSerial: identity.serialNumber, notAfter: identity.notAfter.toISOString() },
      });
      logger.info({ certificateSerial: identity.serialNumber, notAfter: identity.notAfter.toISOString() }, 'issued the controller MQTT client certificate');
      current = { context, renewAt: now + CONTROLLER_CLIENT_CERTIFICATE_VALIDITY_MS / 2 };
      return context;
    } finally {
      identity.privateKeyPem.fill(0);
    }
  }

  return () => {
    if (current !== undefined && clock() < current.renewAt) return Promise.resolve(current.context);
    issuing ??= issue().finally(() => {
      issuing = undefined;
    });
    return issuing;
  };
}

export interface BrokerCredentialsOptions {
  readonly dataDir: string;
  /** Created (0700) when missing; existing files of BROKER_CREDENTIAL_FILES are replaced. */
  readonly outDir: string;
  /** Names robots and the controller use to reach the broker (SAN of its certificate). */
  readonly dnsNames: readonly string[];
  readonly ipAddresses: readonly string[];
  readonly env: KmsEnvironment;
  readonly clock?: () => number;
}

export interface BrokerCredentialsResult {
  readonly files: { readonly [K in keyof typeof BROKER_CREDENTIAL_FILES]: string };
  readonly serialNumber: string;
  readonly notAfter: Date;
  readonly fleets: readonly string[];
}

/**
 * `fleet-controller mqtt-credentials`: a server certificate and key for the broker from the
 * controller TLS CA (serverAuth only, SERVER_CERTIFICATE_VALIDITY_MS), and the two CA bundles.
 * Run again after a fleet is created (its CA joins fleet-cas.pem) and reload the broker.
 * @throws InvalidArgument when DIR is not a data directory; RangeError for bad names; KMS and file
 *   errors (a file is either replaced whole or left as it was).
 */
export async function writeBrokerCredentials(options: BrokerCredentialsOptions): Promise<BrokerCredentialsResult> {
  const clock = options.clock ?? Date.now;
  const paths = dataDirPaths(options.dataDir);
  readControllerSettings(paths);
  const stack = await openDataDirKms(paths, options.env);
  const repository = await openSqliteRepository({ path: paths.state, clock });
  const core = new ControllerCore({ repository, kms: stack.provider, clock, controllerKeys: await loadControllerKeys(repository) });
  let privateKeyPem: Buffer | undefined;
  try {
    const keys = core.controllerKeys;
    const now = clock();
    const pair = await generateKeyPair('ECDSA_P256');
    const issued = await issueServerCertificate({
      issuerSigner: await core.signer(keys.tlsCaKeyId),
      issuerCertificate: keys.tlsCaCertificateDer,
      publicKey: pair.publicKey,
      dnsNames: options.dnsNames,
      ipAddresses: options.ipAddresses,
      notBefore: new Date(now - CLOCK_SKEW_MS),
      notAfter: new Date(now + SERVER_CERTIFICATE_VALIDITY_MS),
    });
    privateKeyPem = Buffer.from(pair.privateKey.export({ type: 'pkcs8', format: 'pem' }));
    const fleets = (await repository.listFleets()).map((fleet) => fleet.id);
    const fleetCas: string[] = [];
    for (const fleet of fleets) fleetCas.push(derToPem((await core.fleetKeys(fleet)).caCertificateDer));
    const leaf = new X509Certificate(issued.der);

    await mkdir(options.outDir, { recursive: true, mode: 0o700 });
    const files = Object.fromEntries(Object.entries(BROKER_CREDENTIAL_FILES).map(([role, name]) => [role, join(options.outDir, name)])) as BrokerCredentialsResult['files'];
    await replaceFile(files.privateKey, privateKeyPem, 0o600);
    await replaceFile(files.certificate, derToPem(issued.der) + derToPem(keys.tlsCaCertificateDer), 0o644);
    await replaceFile(files.fleetCas, fleetCas.join(''), 0o644);
    await replaceFile(files.controllerCa, derToPem(keys.tlsCaCertificateDer), 0o644);
    await repository.audit.append({
      actor: 'system',
      action: 'key.sign',
      keyRef: `controller-tls-ca:${keys.tlsCaKeyId}`,
      result: 'ok',
      details: {
        purpose: 'mqtt-broker-certificate',
        certificateSerial: leaf.serialNumber.toLowerCase(),
        notAfter: new Date(leaf.validTo).toISOString(),
        names: [...options.dnsNames, ...options.ipAddresses].join(' ').slice(0, 256),
      },
    });
    return { files, serialNumber: leaf.serialNumber.toLowerCase(), notAfter: new Date(leaf.validTo), fleets };
  } finally {
    privateKeyPem?.fill(0);
    core.close();
    await repository.close();
    await stack.provider.close();
  }
}
