/**
 * Puts the controller's retained MQTT messages back after a start: the embedded broker keeps them
 * in memory only, so after a restart the emergency, revocations and device commands topics would
 * be empty and a robot that connects would learn nothing until the next change. For every fleet:
 * its current signed revocation list, the latest command of the emergency topic, and the latest
 * command of each device's commands topic — the same bytes as first published.
 *
 * Trust boundary: republishes stored, already signed artefacts; nothing is signed here.
 */
import { SignedRevocationListSchema, revocationsTopic } from '@fleetkey/protocol';
import { toBinary } from '@bufbuild/protobuf';
import { loadRevocationList } from '../fleets/settings.js';
import type { IssuedCommand } from '../store/index.js';
import { commandTopic, publishCommand, type CommandIssuerDeps } from './issue-command.js';

const COMMAND_PAGE = 1000;

/** Republishes every fleet's retained messages; a failure is logged per fleet, never thrown. */
export async function republishRetained(deps: CommandIssuerDeps): Promise<void> {
  const { core, publisher, logger } = deps;
  for (const fleet of await core.repository.listFleets()) {
    try {
      const list = await loadRevocationList(core.repository, fleet.id);
      if (list !== undefined) await publisher.publish(revocationsTopic(fleet.id), toBinary(SignedRevocationListSchema, list), { qos: 1, retain: true });
      const latest = new Map<string, IssuedCommand>();
      for (let after = 0; ; ) {
        const page = await core.repository.listCommands(fleet.id, { afterSequence: after, limit: COMMAND_PAGE });
        for (const command of page) latest.set(commandTopic(command), command);
        after = page.at(-1)?.sequence ?? after;
        if (page.length < COMMAND_PAGE) break;
      }
      for (const command of [...latest.values()].sort((a, b) => a.sequence - b.sequence)) await publishCommand(deps, command);
    } catch (error) {
      logger.error({ err: error, fleet: fleet.id }, 'republishing retained messages failed');
    }
  }
}
