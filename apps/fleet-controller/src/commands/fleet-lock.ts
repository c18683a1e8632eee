/**
 * Per-fleet serialization of the work that hands out a sequence and publishes what it signed:
 * commands (the fleet's command sequence), revocation lists (their own sequence), and the
 * lockdown/lift bookkeeping that reads "what is in force" and then issues a command.
 *
 * Why: the emergency and revocations topics are retained, so the broker keeps only the LAST
 * publish. Two issuers that took sequences 5 and 6 but published 6 then 5 would leave 5 retained,
 * and a robot that already applied 6 refuses 5 as a replay — the command would be lost for it.
 * Serializing allocate → sign → store → publish per fleet keeps retained topics monotonic. It also
 * makes "two approvals at once" issue one LIFT, not two.
 *
 * Scope: one controller process. Several replicas need the database's leader lease (DESIGN.md,
 * scale) for issuing as well; until then one replica serves a fleet's operator API.
 *
 * Trust boundary: none (in-process coordination). The map holds one entry per fleet with work in
 * flight and drops it when idle, so it stays bounded by the number of fleets.
 */

const queues = new WeakMap<object, Map<string, Promise<void>>>();

/**
 * Runs `work` after every earlier work of the same owner and fleet has settled, and before any
 * later one starts. Not re-entrant: `work` must not call it again for the same fleet (it would wait
 * for itself); the `...Locked` functions of this module are for callers already inside.
 */
export function withFleetLock<T>(owner: object, fleetId: string, work: () => Promise<T>): Promise<T> {
  let fleets = queues.get(owner);
  if (fleets === undefined) {
    fleets = new Map();
    queues.set(owner, fleets);
  }
  const previous = fleets.get(fleetId) ?? Promise.resolve();
  const result = previous.then(work);
  const tail: Promise<void> = result.then(
    () => undefined,
    () => undefined,
  );
  fleets.set(fleetId, tail);
  const map = fleets;
  void tail.then(() => {
    if (map.get(fleetId) === tail) map.delete(fleetId);
  });
  return result;
}
