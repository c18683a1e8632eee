/**
 * Certificate serial numbers: 16 random bytes with the top bit cleared, so the DER INTEGER is
 * positive and needs no sign byte (RFC 5280 §4.1.2.2; CA/B Forum BR §7.1 asks for 64+ random bits).
 *
 * Trust boundary: randomness is injected so tests are reproducible; production uses randomBytes.
 */
import { randomBytes } from 'node:crypto';
import { MAX_SERIAL_NUMBER_BYTES, serialMagnitude } from './parse-certificate.js';

export const SERIAL_NUMBER_BYTES = 16;

export type RandomSource = (size: number) => Uint8Array;

/** A fresh positive 16-byte serial number. */
export function generateSerialNumber(random: RandomSource = (n) => randomBytes(n)): Uint8Array {
  const serial = Uint8Array.from(random(SERIAL_NUMBER_BYTES));
  if (serial.length !== SERIAL_NUMBER_BYTES) throw new RangeError(`"random" expected ${SERIAL_NUMBER_BYTES} bytes, got ${serial.length}`);
  serial[0]! &= 0x7f;
  // A zero first byte would make the INTEGER non-minimal; 0x01 keeps the width and 126+ random bits.
  if (serial[0] === 0) serial[0] = 0x01;
  return serial;
}

/**
 * Checks a caller-supplied serial: a minimal positive DER INTEGER body of 1..20 octets.
 * @throws TypeError / RangeError naming "serialNumber".
 */
export function assertSerialNumber(serial: Uint8Array): Uint8Array {
  if (!(serial instanceof Uint8Array)) throw new TypeError('"serialNumber" expected a Uint8Array');
  if (serial.length < 1 || serial.length > MAX_SERIAL_NUMBER_BYTES) {
    throw new RangeError(`"serialNumber" expected 1-${MAX_SERIAL_NUMBER_BYTES} bytes, got ${serial.length}`);
  }
  if (!serialMagnitude(serial) || serial[0] === 0) {
    throw new RangeError('"serialNumber" expected a positive integer without leading zero bytes');
  }
  return serial;
}
