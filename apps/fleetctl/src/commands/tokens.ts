/**
 * `fleetctl tokens create|list|revoke`: single-use, expiring enrollment tokens a factory station
 * presents with a robot's CSR.
 *
 * Output of `create` in table mode: the token secrets alone on stdout, one per line, in the order
 * minted (so `fleetctl tokens create --fleet F | head -1` is one token and `> batch.txt` is a
 * batch); a summary on stderr. `-o json` keeps each secret with its token id and expiry.
 *
 * Trust boundary: `create` receives the secrets. They go to stdout once (the purpose of the
 * command) and nowhere else; list and revoke see metadata only.
 */
import { EnrollmentTokenState, type EnrollmentToken, type IssuedEnrollmentToken } from '@fleetkey/protocol';
import { Option, type Command } from 'commander';
import {
  MAX_SERIAL_NUMBER_BYTES,
  MAX_TOKEN_COUNT,
  boundedText,
  identifier,
  integerIn,
  limitOption,
  tokenTtlSeconds,
} from '../arguments.js';
import type { Runtime } from '../context.js';
import { collectPages } from '../paging.js';
import { enumName, isoTime, tableTime, type Column } from '../output.js';

const STATES = EnrollmentTokenState as unknown as Readonly<Record<number, string>>;

const STATE_FILTERS = Object.freeze({
  active: EnrollmentTokenState.ACTIVE,
  used: EnrollmentTokenState.USED,
  revoked: EnrollmentTokenState.REVOKED,
  expired: EnrollmentTokenState.EXPIRED,
});

export function tokenJson(token: EnrollmentToken): Record<string, unknown> {
  return {
    tokenId: token.tokenId,
    fleet: token.fleet,
    group: token.group,
    serialNumber: token.serialNumber,
    state: enumName(STATES, token.state),
    createdAt: isoTime(token.createdAt),
    expiresAt: isoTime(token.expiresAt),
    createdBy: token.createdBy,
    usedAt: isoTime(token.usedAt),
    usedByDeviceId: token.usedByDeviceId,
  };
}

/** An issued token for JSON: the secret first, then its metadata. */
export function issuedTokenJson(issued: IssuedEnrollmentToken): Record<string, unknown> {
  return { token: issued.token, ...(issued.info === undefined ? {} : tokenJson(issued.info)) };
}

const TOKEN_COLUMNS: readonly Column<EnrollmentToken>[] = [
  { header: 'TOKEN ID', value: (t) => t.tokenId },
  { header: 'GROUP', value: (t) => t.group },
  { header: 'SERIAL', value: (t) => t.serialNumber },
  { header: 'STATE', value: (t) => enumName(STATES, t.state) },
  { header: 'CREATED', value: (t) => tableTime(t.createdAt) },
  { header: 'EXPIRES', value: (t) => tableTime(t.expiresAt) },
  { header: 'CREATED BY', value: (t) => t.createdBy },
  { header: 'USED BY', value: (t) => t.usedByDeviceId },
];

interface CreateOptions {
  readonly fleet: string;
  readonly group?: string;
  readonly count?: number;
  readonly ttl?: number;
  readonly serial?: string;
}

function summary(options: CreateOptions, tokens: readonly IssuedEnrollmentToken[]): string {
  const group = options.group === undefined ? '' : `, group ${options.group}`;
  const expiry = tableTime(tokens[0]?.info?.expiresAt);
  const expires = expiry === '' ? '' : `, expiring ${expiry}`;
  const plural = tokens.length === 1 ? 'token' : 'tokens';
  return `minted ${tokens.length} enrollment ${plural} for fleet ${options.fleet}${group}${expires}. The secrets below are shown only once (use -o json to keep their token ids).`;
}

export function registerTokenCommands(program: Command, runtime: Runtime): void {
  const tokens = program.command('tokens').description('mint, list and revoke enrollment tokens');

  tokens
    .command('create')
    .description('mint single-use enrollment tokens; table output is the secrets alone, one per line (roles admin, operator, factory)')
    .addOption(new Option('--fleet <fleet>', 'the fleet enrolled robots join').argParser(identifier('fleet id')).makeOptionMandatory())
    .option('--group <group>', 'the group enrolled robots join', identifier('group id'))
    .option('--count <n>', `how many tokens (a production batch), 1-${MAX_TOKEN_COUNT}; default 1`, integerIn(1, MAX_TOKEN_COUNT))
    .option('--ttl <duration>', 'how long they stay usable: 30m, 24h, 7d (1m-30d); default 24h', tokenTtlSeconds)
    .option('--serial <pattern>', 'bind the tokens to hardware serials: a pattern with * (any run) and ? (one character), such as SN-2026-*; an exact serial only with --count 1', boundedText(MAX_SERIAL_NUMBER_BYTES))
    .action(async (options: CreateOptions, command: Command) => {
      // An exact serial names one robot; say so before minting anything.
      if (options.serial !== undefined && (options.count ?? 1) !== 1 && !/[*?]/.test(options.serial)) {
        command.error(`error: an exact --serial binds one token: use it with --count 1, or a pattern such as SN-2026-* for a batch`, { exitCode: 2, code: 'fleetctl.serialWithCount' });
      }
      await runtime.operator(command, async (client, out) => {
        const response = await client.createEnrollmentToken({
          fleet: options.fleet,
          group: options.group ?? '',
          count: options.count ?? 1,
          serialNumber: options.serial ?? '',
          ...(options.ttl === undefined ? {} : { ttl: { seconds: BigInt(options.ttl), nanos: 0 } }),
        });
        if (out.json) {
          out.document({ tokens: response.tokens.map(issuedTokenJson) });
          return;
        }
        out.note(summary(options, response.tokens));
        out.line(response.tokens.map((t) => t.token).join('\n'));
      });
    });

  tokens
    .command('list')
    .description("list a fleet's enrollment tokens (metadata only, never secrets)")
    .addOption(new Option('--fleet <fleet>', 'the fleet').argParser(identifier('fleet id')).makeOptionMandatory())
    .addOption(new Option('--state <state>', 'only tokens in this state').choices(Object.keys(STATE_FILTERS)))
    .addOption(limitOption())
    .action(async (options: { fleet: string; state?: keyof typeof STATE_FILTERS; limit?: number }, command: Command) => {
      await runtime.operator(command, async (client, out) => {
        const state = options.state === undefined ? EnrollmentTokenState.UNSPECIFIED : STATE_FILTERS[options.state];
        const rows = await collectPages(async (pageToken, pageSize) => {
          const page = await client.listEnrollmentTokens({ fleet: options.fleet, state, pageToken, pageSize });
          return { items: page.tokens, nextPageToken: page.nextPageToken };
        }, options.limit);
        if (out.json) out.document({ tokens: rows.map(tokenJson) });
        else out.table(TOKEN_COLUMNS, rows);
      });
    });

  tokens
    .command('revoke')
    .description('revoke an unused enrollment token by its token id')
    .argument('<token-id>', "the token's id (from `tokens list`), not its secret", identifier('token id'))
    .addOption(new Option('--fleet <fleet>', 'the fleet').argParser(identifier('fleet id')).makeOptionMandatory())
    .action(async (tokenId: string, options: { fleet: string }, command: Command) => {
      await runtime.operator(command, async (client, out) => {
        const response = await client.revokeEnrollmentToken({ fleet: options.fleet, tokenId });
        const revoked = response.token;
        if (out.json) out.document({ token: revoked === undefined ? null : tokenJson(revoked) });
        else out.table(TOKEN_COLUMNS, revoked === undefined ? [] : [revoked]);
      });
    });
}
