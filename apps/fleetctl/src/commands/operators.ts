/**
 * `fleetctl operators create|list|revoke`: the people and automation allowed to call the
 * operator API, each with a role and a fleet scope.
 *
 * Trust boundary: `create` receives a new bearer credential. It goes to stdout exactly once (the
 * purpose of the command) with a warning on stderr, and nowhere else: not in notes, not in errors.
 */
import { OperatorRole, type Operator } from '@fleetkey/protocol';
import { Option, type Command } from 'commander';
import { MAX_DISPLAY_NAME_BYTES, MAX_REASON_BYTES, ROLE_NAMES, boundedText, identifier, identifierList, limitOption, type RoleName } from '../arguments.js';
import type { Runtime } from '../context.js';
import { collectPages } from '../paging.js';
import { enumName, isoTime, tableTime, type Column } from '../output.js';

const ROLES = OperatorRole as unknown as Readonly<Record<number, string>>;

const ROLE_TO_PROTO: Readonly<Record<RoleName, OperatorRole>> = Object.freeze({
  admin: OperatorRole.ADMIN,
  operator: OperatorRole.OPERATOR,
  factory: OperatorRole.FACTORY,
  auditor: OperatorRole.AUDITOR,
});

export function operatorJson(operator: Operator): Record<string, unknown> {
  return {
    operatorId: operator.operatorId,
    displayName: operator.displayName,
    role: enumName(ROLES, operator.role),
    fleets: [...operator.fleets],
    createdAt: isoTime(operator.createdAt),
    createdBy: operator.createdBy,
    revokedAt: isoTime(operator.revokedAt),
  };
}

function fleetScope(operator: Operator): string {
  return operator.fleets.length === 0 ? 'all' : operator.fleets.join(',');
}

const OPERATOR_COLUMNS: readonly Column<Operator>[] = [
  { header: 'OPERATOR', value: (o) => o.operatorId },
  { header: 'ROLE', value: (o) => enumName(ROLES, o.role) },
  { header: 'FLEETS', value: fleetScope },
  { header: 'DISPLAY NAME', value: (o) => o.displayName },
  { header: 'CREATED', value: (o) => tableTime(o.createdAt) },
  { header: 'CREATED BY', value: (o) => o.createdBy },
  { header: 'REVOKED', value: (o) => tableTime(o.revokedAt) },
];

interface CreateOptions {
  readonly role: RoleName;
  readonly fleet?: string[];
  readonly displayName?: string;
}

export function registerOperatorCommands(program: Command, runtime: Runtime): void {
  const operators = program.command('operators').description('create, list and revoke operator credentials (role admin; auditors may list)');

  operators
    .command('create')
    .description('create an operator and print its credential, once: table output is the credential alone, for `> file`')
    .argument('<id>', 'the new operator id', identifier('operator id'))
    .addOption(new Option('--role <role>', 'what the operator may do').choices(ROLE_NAMES).makeOptionMandatory())
    .option('--fleet <fleet>', 'a fleet the operator may act on; repeat for several; default: all fleets', identifierList('fleet id'))
    .option('--display-name <name>', 'name for people', boundedText(MAX_DISPLAY_NAME_BYTES))
    .action(async (operatorId: string, options: CreateOptions, command: Command) => {
      await runtime.operator(command, async (client, out) => {
        const response = await client.createOperator({
          operatorId,
          role: ROLE_TO_PROTO[options.role],
          fleets: options.fleet ?? [],
          displayName: options.displayName ?? '',
        });
        const created = response.operator;
        if (out.json) {
          out.document({ operator: created === undefined ? null : operatorJson(created), credential: response.credential });
          return;
        }
        const scope = created === undefined ? '' : ` (role ${enumName(ROLES, created.role)}, fleets: ${fleetScope(created)})`;
        out.note(`created operator ${operatorId}${scope}. Its credential is printed below and shown only once: store it now.`);
        out.line(response.credential);
      });
    });

  operators
    .command('list')
    .description('list operators (roles admin, auditor)')
    .option('--include-revoked', 'also list revoked operators')
    .addOption(limitOption())
    .action(async (options: { includeRevoked?: boolean; limit?: number }, command: Command) => {
      await runtime.operator(command, async (client, out) => {
        const rows = await collectPages(async (pageToken, pageSize) => {
          const page = await client.listOperators({ includeRevoked: options.includeRevoked === true, pageToken, pageSize });
          return { items: page.operators, nextPageToken: page.nextPageToken };
        }, options.limit);
        if (out.json) out.document({ operators: rows.map(operatorJson) });
        else out.table(OPERATOR_COLUMNS, rows);
      });
    });

  operators
    .command('revoke')
    .description("revoke an operator's credential (role admin; nobody can revoke themselves)")
    .argument('<id>', 'the operator id', identifier('operator id'))
    .option('--reason <text>', 'why, for the audit log', boundedText(MAX_REASON_BYTES))
    .action(async (operatorId: string, options: { reason?: string }, command: Command) => {
      await runtime.operator(command, async (client, out) => {
        const response = await client.revokeOperator({ operatorId, reason: options.reason ?? '' });
        const revoked = response.operator;
        if (out.json) out.document({ operator: revoked === undefined ? null : operatorJson(revoked) });
        else out.table(OPERATOR_COLUMNS, revoked === undefined ? [] : [revoked]);
      });
    });
}
