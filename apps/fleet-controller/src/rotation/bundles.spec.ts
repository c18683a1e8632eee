/**
 * The pieces of bundle building that do not need a broker: the bounded DER walk that finds a
 * certificate's public key (against node's X.509 parser, and a table of bad inputs), and the
 * wrapped-key cache, which must never serve a key wrapped to a device's previous identity key.
 */
import { X509Certificate } from 'node:crypto';
import { unwrapWithPrivateKey } from '@fleetkey/crypto';
import { keyBundleWrapContext } from '@fleetkey/protocol';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { issueFleetDeviceCertificate } from '../provisioning/index.js';
import { generateKeyPair } from '@fleetkey/crypto';
import { FleetBundleSource, spkiOfCertificate } from './bundles.js';
import { rotateNow } from './rotate.js';
import { enrollDevices, openBundle, pinnedEmergencyKey, startRotationHarness, type RotationHarness, type TestDevice } from './testing.js';

let h: RotationHarness;
let device: TestDevice;
let der: Uint8Array;

beforeAll(async () => {
  h = await startRotationHarness();
  [device] = (await enrollDevices(h.core, h.fleet, 1)) as [TestDevice];
  der = (await h.repository.getDevice(h.fleet, device.deviceId))!.certificateDer;
});
afterAll(async () => {
  await h.close();
});

describe('spkiOfCertificate', () => {
  it('finds the same SubjectPublicKeyInfo as node:crypto’s X.509 parser', () => {
    const expected = new X509Certificate(der).publicKey.export({ type: 'spki', format: 'der' });
    expect(Buffer.from(spkiOfCertificate(der)).equals(expected)).toBe(true);
  });

  it('refuses every truncation of a real certificate', () => {
    for (let length = 0; length < der.length; length++) expect(() => spkiOfCertificate(der.subarray(0, length)), `length ${length}`).toThrow(RangeError);
  });

  it('never fails with anything but RangeError, and never reads past its input (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), fc.nat(der.length), (noise, cut) => {
        for (const input of [noise, Uint8Array.from([...der.subarray(0, cut), ...noise])]) {
          try {
            const spki = spkiOfCertificate(input);
            expect(spki.byteOffset + spki.length).toBeLessThanOrEqual(input.byteOffset + input.length);
          } catch (error) {
            expect(error).toBeInstanceOf(RangeError);
          }
        }
      }),
    );
  });

  it.each([
    ['an empty input', new Uint8Array()],
    ['a non-SEQUENCE', Uint8Array.from([0x04, 0x00])],
    ['an indefinite length', Uint8Array.from([0x30, 0x80, 0x00, 0x00])],
    ['a length of five bytes', Uint8Array.from([0x30, 0x85, 0, 0, 0, 0, 1, 0])],
    ['a length past the end', Uint8Array.from([0x30, 0x82, 0xff, 0xff, 0x30, 0x00])],
    ['a TBS without fields', Uint8Array.from([0x30, 0x02, 0x30, 0x00])],
    ['a field out of order', Uint8Array.from([0x30, 0x06, 0x30, 0x04, 0x30, 0x00, 0x02, 0x00])],
  ])('refuses %s', (_name, input) => {
    expect(() => spkiOfCertificate(input)).toThrow(RangeError);
  });
});

describe('wrapped-key cache', () => {
  it('a device renewed onto a new identity key gets every epoch wrapped to the new key, never a cached wrap to the old one', async () => {
    await rotateNow(h.core, { fleetId: h.fleet, actor: 'op-1', reason: '' });
    const before = await FleetBundleSource.load(h.core, h.fleet);
    const first = before.bundleFor((await h.repository.getDevice(h.fleet, device.deviceId))!);
    before.release();

    const renewed = await generateKeyPair('ECDSA_P256');
    const certificate = await issueFleetDeviceCertificate(h.core, await h.core.fleetKeys(h.fleet), { deviceId: device.deviceId, publicKey: renewed.publicKey });
    await h.repository.updateDeviceCertificate(h.fleet, device.deviceId, certificate.der, certificate.serialNumber);
    const after = await FleetBundleSource.load(h.core, h.fleet);
    const second = after.bundleFor((await h.repository.getDevice(h.fleet, device.deviceId))!);
    after.release();

    const opened = await openBundle(second, device.deviceId, renewed.privateKey, await pinnedEmergencyKey(h.core, h.fleet));
    expect(opened.map((e) => e.version)).toEqual([1, 2]);
    expect(() => unwrapWithPrivateKey(second.epochs[0]!.wrappedKey, device.privateKey, keyBundleWrapContext(device.deviceId))).toThrow();
    expect(first.epochs[0]!.wrappedKey).not.toEqual(second.epochs[0]!.wrappedKey);
  });
});
