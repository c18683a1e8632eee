/**
 * A small model of Vault's ACL policies, enough to answer `403 permission denied` the way Vault
 * does for a token without the capability a path needs. Rules are Vault's `path "…" {
 * capabilities = […] }` blocks: an exact path, a trailing `*` glob or `+` single-segment
 * wildcards. Rules for the same path (from several policies of one token) are merged, as Vault
 * merges them. Simplification (stated, not hidden): among different matching paths the most
 * specific wins, where "specific" is the longest literal prefix; `deny` in it refuses.
 *
 * Trust boundary: decides whether a request may run at all; tokens are compared in constant time.
 */
import { createHash, timingSafeEqual } from 'node:crypto';

export type Capability = 'create' | 'read' | 'update' | 'delete' | 'list' | 'patch' | 'sudo' | 'deny';

export interface PolicyRule {
  /** Path below `/v1/`, e.g. `transit/encrypt/fleetkey-*` or `transit/keys/+/rotate`. */
  readonly path: string;
  readonly capabilities: readonly Capability[];
}

/** `root` may do everything (like Vault's root token); otherwise the rules decide. */
export type TokenPolicy = 'root' | readonly PolicyRule[];

function matches(pattern: string, path: string): boolean {
  const glob = pattern.endsWith('*');
  const patternSegments = (glob ? pattern.slice(0, -1) : pattern).split('/');
  const pathSegments = path.split('/');
  for (let i = 0; i < patternSegments.length; i += 1) {
    const want = patternSegments[i] ?? '';
    const have = pathSegments[i];
    if (have === undefined) return false;
    const last = i === patternSegments.length - 1;
    if (want === '+') continue;
    if (last && glob) return have.startsWith(want);
    if (want !== have) return false;
  }
  return glob || patternSegments.length === pathSegments.length;
}

function specificity(pattern: string): number {
  const literal = pattern.replace(/\*$/, '');
  return literal.length * 2 + (pattern.endsWith('*') ? 0 : 1) - (pattern.match(/\+/g)?.length ?? 0) * 2;
}

/** Whether `policy` grants `capability` on `path` (relative to /v1/). */
export function allows(policy: TokenPolicy, path: string, capability: Capability): boolean {
  if (policy === 'root') return true;
  let best: PolicyRule | undefined;
  for (const rule of policy) {
    if (!matches(rule.path, path)) continue;
    if (!best || specificity(rule.path) > specificity(best.path)) best = rule;
  }
  if (!best) return false;
  const bestPath = best.path;
  const merged = new Set(policy.filter((rule) => rule.path === bestPath).flatMap((rule) => rule.capabilities));
  if (merged.has('deny')) return false;
  return merged.has(capability);
}

/** Token table with constant-time lookup (hashing first makes the compared lengths equal). */
export class TokenTable {
  readonly #entries: { digest: Buffer; policy: TokenPolicy }[];

  constructor(tokens: Readonly<Record<string, TokenPolicy>>) {
    this.#entries = Object.entries(tokens).map(([token, policy]) => ({ digest: createHash('sha256').update(token).digest(), policy }));
  }

  /** The token's policy, or undefined for a missing or unknown token. */
  lookup(token: string | undefined): TokenPolicy | undefined {
    if (token === undefined || token.length === 0) return undefined;
    const digest = createHash('sha256').update(token).digest();
    let found: TokenPolicy | undefined;
    for (const entry of this.#entries) {
      if (timingSafeEqual(entry.digest, digest)) found = entry.policy;
    }
    return found;
  }
}
