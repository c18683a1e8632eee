/**
 * GetHealth: the controller's version, leadership and each component's health, for any
 * authenticated role.
 *
 * Trust boundary: runs behind ./guard.ts; component details come from the controller's own probes
 * and are cut to the proto's limits (they are meant to be short and non-secret).
 */
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import type { OperatorServiceDeps } from './deps.js';
import type { Guard } from './guard.js';
import { componentHealthToProto, MAX_HEALTH_COMPONENTS, truncateUtf8 } from './mapping.js';
import type { RpcHandlers } from './policy.js';

/** operator.proto: the version string is at most 64 bytes. */
const MAX_VERSION_BYTES = 64;

export function healthRpc(deps: OperatorServiceDeps, guard: Guard): RpcHandlers<'getHealth'> {
  return {
    getHealth: (_request, context) =>
      guard.run(
        'getHealth',
        context,
        () => undefined,
        async () => {
          const reports = await deps.health();
          const checkedAt = deps.clock();
          return {
            healthy: reports.every((report) => report.healthy),
            version: truncateUtf8(deps.version, MAX_VERSION_BYTES),
            leader: deps.isLeader?.() ?? false,
            components: reports.slice(0, MAX_HEALTH_COMPONENTS).map((report) => componentHealthToProto(report, checkedAt)),
            checkedAt: timestampFromMs(checkedAt),
          };
        },
      ),
  };
}
