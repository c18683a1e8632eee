/** Public surface of the checksum part of @fleetkey/crypto (integrity checks, never MACs). */
export { crc32c } from './crc32c.js';
