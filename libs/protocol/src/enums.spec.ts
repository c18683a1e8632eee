import { KEY_ALGORITHMS, KEY_KINDS, KEY_STATES } from '@fleetkey/key-types';
import { describe, expect, it } from 'vitest';
import {
  keyAlgorithmFromProto,
  keyAlgorithmToProto,
  keyKindFromProto,
  keyKindToProto,
  keyStateFromProto,
  keyStateToProto,
} from './enums.js';
import { KeyAlgorithmSchema, KeyKindSchema, KeyStateSchema } from './gen/fleetkey/v1/common_pb.js';

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    return (error as { code?: string }).code;
  }
  return undefined;
}

describe('enum mirrors', () => {
  it.each([
    ['KeyState', KEY_STATES, KeyStateSchema, keyStateToProto, keyStateFromProto],
    ['KeyKind', KEY_KINDS, KeyKindSchema, keyKindToProto, keyKindFromProto],
    ['KeyAlgorithm', KEY_ALGORITHMS, KeyAlgorithmSchema, keyAlgorithmToProto, keyAlgorithmFromProto],
  ] as const)('%s round-trips every domain value and covers every proto value', (_name, domain, schema, to, from) => {
    const toProto = to as (value: string) => number;
    const fromProto = from as (value: number) => string;
    for (const value of domain) expect(fromProto(toProto(value))).toBe(value);
    const protoValues = schema.values.map((v) => v.number).filter((n) => n !== 0);
    expect(new Set(domain.map(toProto))).toEqual(new Set(protoValues));
  });

  it('mirror names: the proto value name is the domain value in upper snake case', () => {
    for (const state of KEY_STATES) expect(KeyStateSchema.value[keyStateToProto(state)]?.name).toBe(`KEY_STATE_${state.toUpperCase()}`);
    for (const kind of KEY_KINDS) expect(KeyKindSchema.value[keyKindToProto(kind)]?.name).toBe(`KEY_KIND_${kind.toUpperCase().replace(/-/g, '_')}`);
    for (const alg of KEY_ALGORITHMS) expect(KeyAlgorithmSchema.value[keyAlgorithmToProto(alg)]?.name).toBe(`KEY_ALGORITHM_${alg}`);
  });

  it('Precondition: UNSPECIFIED and unknown wire values are MESSAGE_MALFORMED', () => {
    for (const from of [keyStateFromProto, keyKindFromProto, keyAlgorithmFromProto] as Array<(value: number) => string>) {
      expect(codeOf(() => from(0))).toBe('MESSAGE_MALFORMED');
      expect(codeOf(() => from(999))).toBe('MESSAGE_MALFORMED');
      expect(codeOf(() => from(-1))).toBe('MESSAGE_MALFORMED');
    }
  });
});
