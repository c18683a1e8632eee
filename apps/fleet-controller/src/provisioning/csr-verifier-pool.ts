/**
 * Device CSR verification on worker threads. Parsing and checking a CSR (strict DER, proof of
 * possession) is the largest piece of CPU an enrollment costs the controller after the
 * certificate itself; on a machine with a spare core it runs there, so the main thread keeps
 * serving. The answer is the same VerifiedCsr, and a refusal the same typed CsrInvalid, as
 * verifying inline; a pool of size 0, or one whose worker died, verifies inline.
 *
 * Trust boundary: CSRs are attacker bytes; workers only parse and verify them and hand back the
 * public key and names.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { CsrInvalid, type CsrInvalidReason, type VerifiedCsr } from '@fleetkey/crypto';
import type { AsymmetricAlgorithm } from '@fleetkey/key-types';
import type { SignatureAlgorithm } from '@fleetkey/crypto';
import type { CsrAnswer } from './csr-worker.js';
import { verifyDeviceCsr } from './device-keys.js';

/** One worker per spare core, at most two: the controller keeps one core for itself. */
export function defaultCsrWorkerCount(): number {
  return Math.max(0, Math.min(2, availableParallelism() - 1));
}

interface Pending {
  resolve(value: VerifiedCsr): void;
  reject(error: Error): void;
}

interface PoolWorker {
  readonly worker: Worker;
  readonly pending: Map<number, Pending>;
  alive: boolean;
}

export class CsrVerifierPool {
  readonly #workers: PoolWorker[] = [];
  #nextId = 1;
  #closed = false;

  /** @param size worker threads (0: verify inline). */
  constructor(size: number = defaultCsrWorkerCount()) {
    if (!Number.isInteger(size) || size < 0 || size > 16) throw new RangeError('"size" expected 0..16 workers');
    for (let i = 0; i < size; i++) this.#workers.push(this.#spawn());
  }

  get size(): number {
    return this.#workers.filter((w) => w.alive).length;
  }

  /**
   * Verifies a device CSR (proof of possession, device-identity key policy).
   * @throws CsrInvalid as verifying inline would.
   */
  verify(csr: Uint8Array): Promise<VerifiedCsr> {
    const target = this.#workers.filter((w) => w.alive).sort((a, b) => a.pending.size - b.pending.size)[0];
    if (this.#closed || target === undefined) return Promise.resolve().then(() => verifyDeviceCsr(csr));
    const id = this.#nextId++;
    return new Promise<VerifiedCsr>((resolve, reject) => {
      target.pending.set(id, { resolve, reject });
      target.worker.postMessage({ id, csr });
    });
  }

  /** Stops the workers; later calls verify inline. */
  async close(): Promise<void> {
    this.#closed = true;
    await Promise.all(this.#workers.map((w) => w.worker.terminate()));
  }

  #spawn(): PoolWorker {
    const worker = new Worker(new URL('./csr-worker.mjs', import.meta.url));
    // The pool must never keep a finished process alive.
    worker.unref();
    const entry: PoolWorker = { worker, pending: new Map(), alive: true };
    worker.on('message', (answer: CsrAnswer) => {
      const pending = entry.pending.get(answer.id);
      if (pending === undefined) return;
      entry.pending.delete(answer.id);
      if (answer.ok) {
        pending.resolve({
          publicKey: answer.publicKey,
          keyAlgorithm: answer.keyAlgorithm as AsymmetricAlgorithm,
          signatureAlgorithm: answer.signatureAlgorithm as SignatureAlgorithm,
          subjectCommonName: answer.subjectCommonName,
          subjectOrganization: answer.subjectOrganization,
          sanUris: answer.sanUris,
          fleet: answer.fleet,
          deviceId: answer.deviceId,
        });
      } else if (answer.code === 'CSR_INVALID') {
        pending.reject(new CsrInvalid((answer.reason ?? 'malformed') as CsrInvalidReason));
      } else {
        pending.reject(new Error('CSR verification failed in a worker thread'));
      }
    });
    const fail = (): void => {
      entry.alive = false;
      for (const pending of entry.pending.values()) pending.reject(new Error('the CSR verification worker stopped'));
      entry.pending.clear();
    };
    worker.on('error', fail);
    worker.on('exit', fail);
    return entry;
  }
}
