/**
 * CRC32C (Castagnoli), table-driven, as Google Cloud KMS uses it for its request and response
 * integrity fields (`plaintext_crc32c`, `ciphertext_crc32c`, `signature_crc32c`, `pem_crc32c` …).
 * One implementation shared by the Google Cloud KMS emulator and the adapter, so the two cannot
 * drift apart.
 *
 * Trust boundary: an integrity check against accidental corruption in transit, NOT a MAC. Anyone
 * can recompute it; never use it to authenticate anything.
 */

/** The reflected Castagnoli polynomial 0x1EDC6F41 (RFC 3720 §B.4, "CRC32C"). */
const CASTAGNOLI_REFLECTED = 0x82f63b78;

const TABLE: Uint32Array = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ CASTAGNOLI_REFLECTED : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/**
 * CRC32C of `data` as an unsigned 32-bit integer (RFC 3720 §B.4: initial value all ones, reflected
 * input and output, final XOR all ones). Pass a previous result as `seed` to continue over a
 * further chunk: `crc32c(b, crc32c(a)) === crc32c(a ‖ b)`.
 */
export function crc32c(data: Uint8Array, seed = 0): number {
  let crc = ~seed >>> 0;
  for (let i = 0; i < data.length; i++) crc = TABLE[(crc ^ data[i]!) & 0xff]! ^ (crc >>> 8);
  return ~crc >>> 0;
}
