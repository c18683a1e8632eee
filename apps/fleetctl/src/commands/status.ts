/**
 * `fleetctl status`: the controller's health (store, KMS providers, broker). Exits 1 when the
 * controller reports itself unhealthy, so it can serve as a probe.
 *
 * Trust boundary: the report comes from the controller over authenticated TLS.
 */
import { EXIT } from '@fleetkey/cli';
import type { ComponentHealth, GetHealthResponse } from '@fleetkey/protocol';
import type { Command } from 'commander';
import type { Runtime } from '../context.js';
import { durationMs, isoTime, tableTime, type Column } from '../output.js';

export function healthJson(health: GetHealthResponse, controller: string): Record<string, unknown> {
  return {
    controller,
    healthy: health.healthy,
    version: health.version,
    leader: health.leader,
    checkedAt: isoTime(health.checkedAt),
    components: health.components.map((c) => ({
      name: c.name,
      healthy: c.healthy,
      detail: c.detail,
      latencyMs: durationMs(c.latency),
      checkedAt: isoTime(c.checkedAt),
    })),
  };
}

const COMPONENT_COLUMNS: readonly Column<ComponentHealth>[] = [
  { header: 'COMPONENT', value: (c) => c.name },
  { header: 'HEALTHY', value: (c) => (c.healthy ? 'yes' : 'no') },
  { header: 'LATENCY', value: (c) => (c.latency === undefined ? '' : `${durationMs(c.latency)} ms`) },
  { header: 'CHECKED', value: (c) => tableTime(c.checkedAt) },
  { header: 'DETAIL', value: (c) => c.detail },
];

export function registerStatusCommand(program: Command, runtime: Runtime): void {
  program
    .command('status')
    .description("show the controller's health and version; exit 1 when it reports itself unhealthy")
    .action(async (_options: unknown, command: Command) => {
      await runtime.operator(command, async (client, out, settings) => {
        const health = await client.getHealth({});
        if (out.json) {
          out.document(healthJson(health, settings.controller));
        } else {
          out.fields([
            ['Controller', settings.controller],
            ['Healthy', health.healthy ? 'yes' : 'no'],
            ['Version', health.version],
            ['Leader', health.leader ? 'yes' : 'no'],
            ['Checked', tableTime(health.checkedAt)],
          ]);
          if (health.components.length > 0) {
            out.line('');
            out.table(COMPONENT_COLUMNS, health.components);
          }
        }
        if (!health.healthy) runtime.exitCode = EXIT.failure;
      });
    });
}
