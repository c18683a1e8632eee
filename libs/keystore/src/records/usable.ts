/**
 * Whether a key may seal or open *now*, from its state and validity window (DESIGN.md "Field
 * operation"): sealing needs an active key inside notBefore <= now < notAfter; opening needs a
 * state that opens (pending, active, retiring) and now >= notBefore - clock skew. notAfter does
 * not stop opening: once a key's window ends, sealing stops with a clear error while old data
 * stays readable; it is the state machine (retiring -> expired) that ends opening.
 *
 * The clock skew on opening exists because a peer whose clock runs ahead may seal with a key a
 * moment before our clock reaches its notBefore.
 *
 * Trust boundary: pure functions over metadata and an injected `now`; no I/O.
 */
import { canOpen, canSeal } from '@fleetkey/key-types';
import type { KeyRecordMeta } from './types.js';

type Window = Pick<KeyRecordMeta, 'state' | 'notBefore' | 'notAfter' | 'materialDestroyed'>;

export type UnusableReason = 'state' | 'not-yet-valid' | 'expired' | 'destroyed';

/** undefined when the key may seal at `now`, else why not. */
export function sealBlocker(meta: Window, now: Date): UnusableReason | undefined {
  if (meta.materialDestroyed) return 'destroyed';
  if (!canSeal(meta.state)) return 'state';
  if (meta.notBefore && now.getTime() < meta.notBefore.getTime()) return 'not-yet-valid';
  if (meta.notAfter && now.getTime() >= meta.notAfter.getTime()) return 'expired';
  return undefined;
}

/** undefined when the key may open at `now` (allowing `clockSkewMs` before notBefore), else why not. */
export function openBlocker(meta: Window, now: Date, clockSkewMs: number): UnusableReason | undefined {
  if (meta.materialDestroyed) return 'destroyed';
  if (!canOpen(meta.state)) return 'state';
  if (meta.notBefore && now.getTime() < meta.notBefore.getTime() - clockSkewMs) return 'not-yet-valid';
  return undefined;
}

export function isUsableForSeal(meta: Window, now: Date): boolean {
  return sealBlocker(meta, now) === undefined;
}

export function isUsableForOpen(meta: Window, now: Date, clockSkewMs: number): boolean {
  return openBlocker(meta, now, clockSkewMs) === undefined;
}
