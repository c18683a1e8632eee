/**
 * The body of a CSR verification worker thread (./csr-verifier-pool.ts): verifies device CSRs off
 * the controller's main thread and answers with the verified facts, or with the typed refusal.
 *
 * Trust boundary: CSRs are attacker bytes; this thread only parses and verifies them.
 */
import type { KeyObject } from 'node:crypto';
import { parentPort } from 'node:worker_threads';
import { isFleetkeyError } from '@fleetkey/key-types';
import { verifyDeviceCsr } from './device-keys.js';

export interface CsrJob {
  readonly id: number;
  readonly csr: Uint8Array;
}

export type CsrAnswer =
  | {
      readonly id: number;
      readonly ok: true;
      readonly publicKey: KeyObject;
      readonly keyAlgorithm: string;
      readonly signatureAlgorithm: string;
      readonly subjectCommonName: string;
      readonly subjectOrganization: string;
      readonly sanUris: readonly string[];
      readonly fleet: string;
      readonly deviceId: string;
    }
  | { readonly id: number; readonly ok: false; readonly code: string; readonly reason?: string };

parentPort?.on('message', (job: CsrJob) => {
  let answer: CsrAnswer;
  try {
    const verified = verifyDeviceCsr(job.csr);
    answer = { id: job.id, ok: true, ...verified, sanUris: [...verified.sanUris] };
  } catch (error) {
    const reason = (error as { reason?: unknown }).reason;
    answer = { id: job.id, ok: false, code: isFleetkeyError(error) ? error.code : 'INTERNAL', ...(typeof reason === 'string' ? { reason } : {}) };
  }
  parentPort?.postMessage(answer);
});
