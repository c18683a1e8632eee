/**
 * Detection: which provider the environment asks for, and why. The rules, in order:
 *   1. FLEETKEY_KMS_PROVIDER, when set, wins (an unknown value is InvalidKmsConfig, never a guess);
 *   2. else the first vendor whose own variables are all set and whose packages are installed, in
 *      the order vault, azure, gcp, aws (the most specific variables first: AWS_REGION is set on
 *      many hosts that do not mean "use AWS KMS"); other vendors that would also fit are named;
 *   3. else `local`, the embedded default.
 * `reason` is written for a person reading a log line or `fleetctl kms detect`.
 *
 * Trust boundary: the environment object is passed in; only variable NAMES are ever quoted in a
 * reason, never values (a value might be a token).
 */
import { InvalidKmsConfig, isKmsProviderName, type KmsEnvironment, type KmsProviderName } from '@fleetkey/kms-core';
import { KMS_PROVIDER_REGISTRATIONS, registrationOf } from './registrations.js';

export interface DetectedProvider {
  readonly name: KmsProviderName;
  readonly reason: string;
}

export interface ProviderAvailability {
  readonly name: KmsProviderName;
  readonly available: boolean;
  readonly reason: string;
  readonly requirements: readonly string[];
}

function checkEnv(env: KmsEnvironment): void {
  if (typeof env !== 'object' || env === null) throw new TypeError('"env" expected an object of environment variables');
}

/**
 * Every registered provider with whether the environment makes it usable, and why.
 * @throws TypeError when `env` is not an object.
 */
export function describeProviders(env: KmsEnvironment): ProviderAvailability[] {
  checkEnv(env);
  return KMS_PROVIDER_REGISTRATIONS.map((r) => ({ name: r.name, requirements: r.requirements, ...r.detect(env) }));
}

/** The providers the environment makes usable (local when its two variables are set), with reasons. */
export function listAvailableProviders(env: KmsEnvironment): ProviderAvailability[] {
  return describeProviders(env).filter((p) => p.available);
}

/**
 * Picks a provider and explains the choice.
 * @throws InvalidKmsConfig when FLEETKEY_KMS_PROVIDER names no known provider; TypeError for a bad env.
 */
export function detectProvider(env: KmsEnvironment): DetectedProvider {
  checkEnv(env);
  const explicit = env['FLEETKEY_KMS_PROVIDER']?.trim();
  if (explicit !== undefined && explicit !== '') {
    if (!isKmsProviderName(explicit)) {
      throw new InvalidKmsConfig([
        `"provider" (FLEETKEY_KMS_PROVIDER) names no known provider: expected one of ${KMS_PROVIDER_REGISTRATIONS.map((r) => r.name).join(', ')}`,
      ]);
    }
    const detection = registrationOf(explicit).detect(env);
    const note = detection.available ? '' : ` (note: ${detection.reason})`;
    return { name: explicit, reason: `FLEETKEY_KMS_PROVIDER=${explicit} chooses it explicitly${note}` };
  }
  const vendors = describeProviders(env).filter((p) => p.name !== 'local');
  const usable = vendors.filter((p) => p.available);
  const [first, ...others] = usable;
  if (first !== undefined) {
    const also = others.length === 0 ? '' : `; ${others.map((o) => o.name).join(', ')} would also fit (set FLEETKEY_KMS_PROVIDER to choose)`;
    return { name: first.name, reason: `no FLEETKEY_KMS_PROVIDER; ${first.name}: ${first.reason}${also}` };
  }
  const partial = vendors.filter((p) => / is set but | are set but /.test(p.reason)).map((p) => `${p.name}: ${p.reason}`);
  const hint = partial.length === 0 ? 'no vendor variables are set' : `no vendor is fully configured (${partial.join('; ')})`;
  const local = registrationOf('local').detect(env);
  return { name: 'local', reason: `no FLEETKEY_KMS_PROVIDER and ${hint}: using the embedded local provider (${local.reason})` };
}

/**
 * The npm packages a provider needs at run time (the adapter and its vendor SDK).
 * @throws InvalidKmsConfig for an unknown provider name.
 */
export function providerRequirements(name: string): readonly string[] {
  return registrationOf(name).requirements;
}
