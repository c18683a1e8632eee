/**
 * Disaster recovery from a backup: the controller's local KMS files are kept apart (an archive is
 * encrypted under the KMS and never holds it), a robot is provisioned and seals a message, an
 * admin makes a signed, encrypted backup and verifies it; then the controller is lost — stopped
 * and its data directory removed. `fleet-controller restore` builds a new data directory from
 * the archive with the kept KMS files, `serve` runs it on the same addresses, and the robot
 * provisioned before the backup reconnects with its old certificate, still opens the message and
 * seals new ones; the admin's token still works, and a token minted before the backup still
 * enrolls a robot.
 *
 * Trust boundary: none of its own; it drives the binaries as an admin and robot apps do. The KMS
 * key file and passphrase are copied with mode 0600 into a 0700 directory inside the scenario's
 * own temporary directory; the restore reads their paths from its environment.
 */
import { copyFile, mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { CONTROLLER_BIN, runScenario, settle, tokenHint, type ScenarioOptions, type ScenarioReport } from '@fleetkey/fleet-harness';

export const FLEET = 'acme';
export const ROBOT = 'robot-a';
export const LATE_ROBOT = 'robot-b';

export interface RecoveryFacts {
  readonly backup: { readonly backupId: string; readonly sizeBytes: number; readonly fleets: readonly string[] };
  readonly verify: { readonly valid: boolean; readonly problems: readonly string[] };
  readonly lost: { readonly exitCode: number | null; readonly dataDirGone: boolean; readonly robotWentOffline: boolean };
  readonly restore: { readonly backupId: string; readonly fleets: readonly string[]; readonly signature: string; readonly kmsFrom: string };
  readonly sameAddresses: boolean;
  readonly reconnected: boolean;
  readonly openedBefore: string;
  readonly sealedAfter: { readonly text: string; readonly epoch: number };
  readonly devicesAfter: readonly string[];
  readonly lateRobotEpochs: readonly number[];
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Runs the scenario; everything it started is stopped and its directory removed when it ends. */
export function runDisasterRecovery(options: ScenarioOptions = {}): Promise<ScenarioReport<RecoveryFacts>> {
  return runScenario('recovery', options, async (s) => {
    const init = await s.step('controller initialised', async () => {
      const value = await s.initController(FLEET);
      return { detail: `fleet ${FLEET} in controller/, keys in the local KMS (controller/kms/); admin token ${tokenHint(value.adminToken)} (kept in memory)`, value };
    });

    // docs/operations.md: the archive is encrypted under the KMS and never holds the local
    // provider's files; without a copy of them, no archive can be restored.
    const kmsFiles = await s.step('local KMS files kept apart', async () => {
      const safe = join(s.dir, 'kms-safe');
      await mkdir(safe, { mode: 0o700 });
      const keyFile = join(safe, 'keys.fkl');
      const passphraseFile = join(safe, 'passphrase');
      await copyFile(join(init.dataDir, 'kms', 'keys.fkl'), keyFile);
      await copyFile(join(init.dataDir, 'kms', 'passphrase'), passphraseFile);
      return { detail: `kms/keys.fkl and kms/passphrase copied to kms-safe/ (0700): the archive is encrypted under this KMS and does not hold it`, value: { keyFile, passphraseFile } };
    });

    const controller = await s.step('controller serving', async () => {
      const value = await s.serveController(init);
      return { detail: `pid ${value.daemon.pid}: gRPC ${value.grpc}, MQTT ${value.mqtt}, HTTP ${value.http}`, value };
    });

    const { robot, before, spareToken } = await s.step(`${ROBOT} provisioned, sealing`, async () => {
      const [token, spare] = await s.tokens(controller, 2);
      await s.provision(controller, { deviceId: ROBOT, token: token! });
      const started = await s.startAgent(ROBOT);
      const text = s.message('sealed before the backup');
      const sealed = await started.app.seal({ plaintext: encoder.encode(text) });
      return {
        detail: `${ROBOT} serving (pid ${started.daemon.pid}); "${text}" sealed with epoch ${sealed.key?.version}; a spare enrollment token ${tokenHint(spare!)} minted, not yet used`,
        value: { robot: started, before: { text, envelope: sealed.envelope }, spareToken: spare! },
      };
    });

    const archive = join(s.dir, 'backups', `${FLEET}.fkb`);
    const backup = await s.step('backup created', async () => {
      await mkdir(join(s.dir, 'backups'), { mode: 0o700 });
      const made = (await s.fleetctl(controller, ['backup', 'create', '--out', archive])) as { backupId?: string; sizeBytes?: number; fleets?: string[] };
      const value = { backupId: made.backupId ?? '', sizeBytes: Number(made.sizeBytes ?? 0), fleets: made.fleets ?? [] };
      return { detail: `fleetctl backup create: backup ${value.backupId}, ${value.sizeBytes} bytes, fleets ${value.fleets.join(', ')}; signed with the audit key, encrypted under the controller KEK`, value };
    });

    const verify = await s.step('backup verified', async () => {
      const checked = (await s.fleetctl(controller, ['backup', 'verify', archive])) as { valid?: boolean; problems?: string[] };
      const value = { valid: checked.valid === true, problems: checked.problems ?? [] };
      if (!value.valid) throw new Error(`the backup does not verify: ${value.problems[0] ?? 'no reason given'}`);
      return { detail: `fleetctl backup verify: valid (signature by the controller's audit key, every chunk's tag, the data key unwraps)`, value };
    });

    const lost = await s.step('controller lost', async () => {
      const stopped = await controller.daemon.stop();
      await rm(init.dataDir, { recursive: true, force: true });
      const dataDirGone = !(await readdir(s.dir)).includes('controller');
      // The robot notices: its links fail and it records since when it has been offline.
      const robotWentOffline = await settle(`${ROBOT} to notice`, async () => ((await robot.app.getStatus({})).offlineSince === undefined ? undefined : true), { signal: s.signal });
      return { detail: `SIGTERM (exit ${stopped.exitCode}), data directory removed; ${ROBOT} reports itself offline and keeps its cached keys`, value: { exitCode: stopped.exitCode, dataDirGone, robotWentOffline } };
    });

    const restoredDir = join(s.dir, 'controller-restored');
    const restore = await s.step('restored from the backup', async () => {
      const out = await s.processes.run('fleet-controller restore', CONTROLLER_BIN, ['restore', '--data-dir', restoredDir, '--from', archive, '-o', 'json'], {
        // The KMS comes from the environment, never from the archive.
        env: { FLEETKEY_LOCAL_KMS_PATH: kmsFiles.keyFile, FLEETKEY_LOCAL_KMS_PASSPHRASE_FILE: kmsFiles.passphraseFile },
        signal: s.signal,
      });
      const result = JSON.parse(out) as { backupId?: string; fleets?: string[]; signature?: string; kmsFrom?: string; caFile?: string };
      const value = { backupId: result.backupId ?? '', fleets: result.fleets ?? [], signature: result.signature ?? '', kmsFrom: result.kmsFrom ?? '', caFile: result.caFile ?? '' };
      return { detail: `fleet-controller restore --data-dir controller-restored --from ${FLEET}.fkb: backup ${value.backupId}, signature ${value.signature}, fleets ${value.fleets.join(', ')}, KMS from kms-safe/ (${value.kmsFrom})`, value };
    });

    // Robots were told the controller's addresses at enrollment: serve on the same ones.
    const restored = await s.step('serving again on the same addresses', async () => {
      const value = await s.serveController(
        { ...init, dataDir: restoredDir, caFile: restore.caFile },
        { name: 'fleet-controller (restored)', listen: { grpc: controller.grpc, mqtt: controller.mqtt, http: controller.http } },
      );
      return { detail: `pid ${value.daemon.pid}: gRPC ${value.grpc}, MQTT ${value.mqtt} (as before)`, value };
    });
    const sameAddresses = restored.grpc === controller.grpc && restored.mqtt === controller.mqtt;

    const back = await s.step(`${ROBOT} reconnected`, async () => {
      const since = Date.now();
      // Its links retry with backoff (1 s doubling, full jitter): back within a few attempts.
      const reconnected = await settle(`${ROBOT} to reconnect`, async () => {
        const status = await robot.app.getStatus({});
        const contact = status.lastContact === undefined ? 0 : Number(status.lastContact.seconds) * 1000;
        return status.offlineSince === undefined && contact >= since - 1000 ? true : undefined;
      }, { signal: s.signal, timeoutMs: 60_000 });
      const opened = decoder.decode((await robot.app.open({ envelope: before.envelope })).plaintext);
      const text = s.message('sealed after the restore');
      const sealed = await robot.app.seal({ plaintext: encoder.encode(text) });
      const reopened = decoder.decode((await robot.app.open({ envelope: sealed.envelope })).plaintext);
      if (opened !== before.text || reopened !== text) throw new Error(`${ROBOT} did not open what it sealed`);
      return {
        detail: `in contact with the restored controller (mutual TLS with its old certificate); opened "${opened}"; sealed and opened "${reopened}" with epoch ${sealed.key?.version}`,
        value: { reconnected, openedBefore: opened, sealedAfter: { text: reopened, epoch: sealed.key?.version ?? 0 } },
      };
    });

    const { devicesAfter, lateRobotEpochs } = await s.step('state restored: operators, devices, tokens', async () => {
      const listed = (await s.fleetctl(restored, ['devices', 'list', '--fleet', FLEET])) as { devices?: { deviceId: string }[] };
      const status = await s.provision(restored, { deviceId: LATE_ROBOT, token: spareToken });
      const devices = (await s.fleetctl(restored, ['devices', 'list', '--fleet', FLEET])) as { devices?: { deviceId: string }[] };
      const value = { devicesAfter: (devices.devices ?? []).map((d) => d.deviceId).sort(), lateRobotEpochs: (status.epochs ?? []).map((e) => e.version) };
      return {
        detail: `the admin's old token lists ${(listed.devices ?? []).map((d) => d.deviceId).join(', ')}; the spare token minted before the backup enrolls ${LATE_ROBOT} (epoch ${value.lateRobotEpochs.join(', ')}); devices now ${value.devicesAfter.join(', ')}`,
        value,
      };
    });

    return {
      backup,
      verify,
      lost,
      restore: { backupId: restore.backupId, fleets: restore.fleets, signature: restore.signature, kmsFrom: restore.kmsFrom },
      sameAddresses,
      reconnected: back.reconnected,
      openedBefore: back.openedBefore,
      sealedAfter: back.sealedAfter,
      devicesAfter,
      lateRobotEpochs,
    };
  });
}
