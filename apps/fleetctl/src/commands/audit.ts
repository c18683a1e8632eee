/**
 * `fleetctl audit list|verify`: the hash-chained audit log. `verify` asks the controller to
 * recompute a chain and check its signed head; it exits 1 and names the first bad record when
 * the chain does not verify, so it can gate a script or a cron job.
 *
 * Trust boundary: records and the verdict come from the controller over authenticated TLS;
 * fleetctl shows them, it does not re-verify them (it holds no audit public key).
 */
import { EXIT } from '@fleetkey/cli';
import type { AuditRecord, VerifyAuditResponse } from '@fleetkey/protocol';
import type { Command } from 'commander';
import { identifier, limitOption, sequenceNumber } from '../arguments.js';
import type { Runtime } from '../context.js';
import { collectPages } from '../paging.js';
import { base64, hex, isoTime, jsonInteger, tableTime, type Column } from '../output.js';

export function auditRecordJson(record: AuditRecord): Record<string, unknown> {
  return {
    sequence: jsonInteger(record.sequence),
    recordedAt: isoTime(record.recordedAt),
    fleet: record.fleet,
    actor: record.actor,
    action: record.action,
    subject: record.subject,
    success: record.success,
    details: { ...record.details },
    previousHash: base64(record.previousHash),
    hash: base64(record.hash),
  };
}

const RECORD_COLUMNS: readonly Column<AuditRecord>[] = [
  { header: 'SEQ', value: (r) => r.sequence.toString() },
  { header: 'TIME', value: (r) => tableTime(r.recordedAt) },
  { header: 'FLEET', value: (r) => r.fleet },
  { header: 'ACTOR', value: (r) => r.actor },
  { header: 'ACTION', value: (r) => r.action },
  { header: 'SUBJECT', value: (r) => r.subject },
  { header: 'RESULT', value: (r) => (r.success ? 'ok' : 'failed') },
];

/**
 * Whether a verification passed: the chain verifies, and a signed head, when there is one, has a
 * valid signature (a head that fails means someone rewrote the chain and its hashes together).
 */
export function auditVerified(result: VerifyAuditResponse): boolean {
  return result.valid && (result.headSignedAt === undefined || result.headSignatureValid);
}

function verificationJson(result: VerifyAuditResponse, fleet: string): Record<string, unknown> {
  return {
    fleet,
    verified: auditVerified(result),
    valid: result.valid,
    recordsChecked: jsonInteger(result.recordsChecked),
    firstInvalidSequence: result.valid ? null : jsonInteger(result.firstInvalidSequence),
    headSequence: jsonInteger(result.headSequence),
    headHash: base64(result.headHash),
    headSignedAt: isoTime(result.headSignedAt),
    headSignatureValid: result.headSignatureValid,
  };
}

function verificationFields(result: VerifyAuditResponse, fleet: string): [string, string][] {
  return [
    ['Log', fleet === '' ? 'controller-wide' : `fleet ${fleet}`],
    ['Chain', result.valid ? 'valid' : 'INVALID'],
    ['Records checked', result.recordsChecked.toString()],
    ...(result.valid ? [] : [['First bad record', result.firstInvalidSequence.toString()] as [string, string]]),
    ['Head sequence', result.headSequence.toString()],
    ['Head hash', hex(result.headHash)],
    ['Head signed', tableTime(result.headSignedAt)],
    ['Head signature', result.headSignedAt === undefined ? 'no signed head yet' : result.headSignatureValid ? 'valid' : 'INVALID'],
  ];
}

export function registerAuditCommands(program: Command, runtime: Runtime): void {
  const audit = program.command('audit').description('read and verify the audit log (roles admin, auditor)');

  audit
    .command('list')
    .description("page through a fleet's audit log, or the controller-wide log without --fleet")
    .option('--fleet <fleet>', 'the fleet; default: controller-wide events', identifier('fleet id'))
    .option('--after <sequence>', 'only records after this sequence number', sequenceNumber)
    .addOption(limitOption())
    .action(async (options: { fleet?: string; after?: bigint; limit?: number }, command: Command) => {
      await runtime.operator(command, async (client, out) => {
        const rows = await collectPages(async (pageToken, pageSize) => {
          const page = await client.listAuditRecords({ fleet: options.fleet ?? '', afterSequence: options.after ?? 0n, pageToken, pageSize });
          return { items: page.records, nextPageToken: page.nextPageToken };
        }, options.limit);
        if (out.json) out.document({ records: rows.map(auditRecordJson) });
        else out.table(RECORD_COLUMNS, rows);
      });
    });

  audit
    .command('verify')
    .description('have the controller recompute the chain and check its signed head; exit 1 when it does not verify')
    .option('--fleet <fleet>', 'the fleet; default: the controller-wide log', identifier('fleet id'))
    .action(async (options: { fleet?: string }, command: Command) => {
      await runtime.operator(command, async (client, out) => {
        const fleet = options.fleet ?? '';
        const result = await client.verifyAudit({ fleet });
        if (out.json) out.document(verificationJson(result, fleet));
        else out.fields(verificationFields(result, fleet));
        if (auditVerified(result)) return;
        runtime.exitCode = EXIT.failure;
        out.note(
          result.valid
            ? 'the audit chain does not verify: its signed head has an invalid signature'
            : `the audit chain does not verify: the first bad record is sequence ${result.firstInvalidSequence}`,
        );
      });
    });
}
