/**
 * The redaction guard and canonical details: property tests that no token or key-sized blob ever
 * passes, and that canonical JSON does not depend on key order.
 */
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { isFleetkeyError } from '@fleetkey/key-types';
import { describe, expect, it } from 'vitest';
import { generateToken } from '../store/tokens.js';
import { canonicalDetailsJson, isDeniedKeyName, looksSecret, prepareAuditRecord, prepareDetails } from './details.js';

const code = (fn: () => unknown): string => {
  try {
    fn();
    return 'ok';
  } catch (error) {
    return isFleetkeyError(error) ? error.code : (error as Error).name;
  }
};

describe('audit details guard', () => {
  it('Precondition: a details key named like a secret is refused whatever its value', () => {
    for (const key of ['token', 'apiToken', 'SECRET', 'password', 'kek', 'keyMaterial', 'plaintext', 'privateKey', 'pemData']) {
      expect(isDeniedKeyName(key)).toBe(true);
      expect(code(() => prepareDetails({ [key]: 'harmless' }))).toBe('AUDIT_DETAILS_REFUSED');
    }
    expect(code(() => prepareDetails({ serial: 'SN-1', count: 3, group: null, renewed: true }))).toBe('ok');
  });

  it('Precondition: a details value that looks like a token, PEM private key or opaque blob is refused', () => {
    fc.assert(
      fc.property(fc.constantFrom<'operator' | 'enrollment'>('operator', 'enrollment'), fc.string({ maxLength: 20 }), (kind, prefix) => {
        expect(code(() => prepareDetails({ note: `${prefix}${generateToken(kind)}`.slice(0, 256) }))).toBe('AUDIT_DETAILS_REFUSED');
      }),
      { numRuns: 50 },
    );
    fc.assert(
      fc.property(fc.integer({ min: 21, max: 100 }), (n) => {
        const blob = randomBytes(n);
        expect(looksSecret(blob.toString('hex'))).toBe(true);
        expect(looksSecret(blob.toString('base64'))).toBe(n >= 31);
      }),
      { numRuns: 50 },
    );
    expect(looksSecret('-----BEGIN RSA PRIVATE KEY-----')).toBe(true);
    expect(looksSecret('-----BEGIN PRIVATE KEY-----')).toBe(true);
    expect(looksSecret('0123456789abcdef0123456789abcdef01234567')).toBe(false);
    // Long names are names: fleet and device ids up to 64 characters.
    expect(looksSecret('warehouse-north-robots-fleet-2026-production')).toBe(false);
    expect(looksSecret('robot-3f2b8c1e-9d4a-4f6b-8e2a-7c1d5b9e0f3a')).toBe(false);
    expect(looksSecret('line_7_packaging_cell_north_wing_building_c')).toBe(false);
    // …but one long unbroken part, hex or standard base64 is not.
    expect(looksSecret(`robot-${'a1'.repeat(21)}`)).toBe(true);
    expect(looksSecret(randomBytes(32).toString('hex'))).toBe(true);
  });

  it('Precondition: no audit field may carry a token, key or opaque blob', () => {
    const base = { actor: 'op-1', action: 'device.enroll', result: 'denied', errorCode: 'TOKEN_USED' } as const;
    const token = generateToken('enrollment');
    for (const field of ['actor', 'fleetId', 'deviceId', 'keyRef', 'errorCode'] as const) {
      expect(code(() => prepareAuditRecord({ ...base, [field]: token }))).toBe('AUDIT_DETAILS_REFUSED');
    }
    expect(code(() => prepareAuditRecord({ ...base, deviceId: randomBytes(32).toString('hex') }))).toBe('AUDIT_DETAILS_REFUSED');
    // Key references legitimately carry a public-key fingerprint, so only token / PEM patterns apply there.
    expect(code(() => prepareAuditRecord({ ...base, keyRef: `local:${randomBytes(32).toString('hex')}` }))).toBe('ok');
    expect(code(() => prepareAuditRecord({ ...base, keyRef: '-----BEGIN PRIVATE KEY-----' }))).toBe('AUDIT_DETAILS_REFUSED');
  });

  it('canonical JSON sorts keys and does not depend on insertion order', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.stringMatching(/^[a-z][a-z0-9]{0,8}$/), fc.oneof(fc.boolean(), fc.integer(), fc.constant(null))), (dict) => {
        const reversed = Object.fromEntries(Object.entries(dict).reverse());
        expect(canonicalDetailsJson(reversed)).toBe(canonicalDetailsJson(dict));
        expect(JSON.parse(canonicalDetailsJson(dict))).toEqual(dict);
      }),
      { numRuns: 100 },
    );
  });
});
