// One flat config for the whole workspace. The module-boundary rule is what keeps DESIGN.md's
// arrows true: apps -> libs; kms adapters, keystore, protocol -> crypto -> key-types.
import js from '@eslint/js';
import nx from '@nx/eslint-plugin';
import tseslint from 'typescript-eslint';

const vendorSdks = ['@aws-sdk/*', '@azure/*', '@google-cloud/*', 'node-vault'];

export default tseslint.config(
  { ignores: ['**/node_modules/**', '**/dist/**', '**/.nx/**', '**/src/gen/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts', '**/*.mts', '**/*.mjs'],
    plugins: { '@nx': nx },
    languageOptions: {
      globals: { process: 'readonly', console: 'readonly', Buffer: 'readonly', URL: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', setInterval: 'readonly', clearInterval: 'readonly', setImmediate: 'readonly', structuredClone: 'readonly', TextEncoder: 'readonly', TextDecoder: 'readonly', AbortController: 'readonly', AbortSignal: 'readonly' },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-console': 'off',
      '@nx/enforce-module-boundaries': [
        'error',
        {
          enforceBuildableLibDependency: false,
          allow: [],
          banTransitiveDependencies: false,
          depConstraints: [
            { sourceTag: 'type:app', onlyDependOnLibsWithTags: ['type:kms-registry', 'type:cli', 'type:tooling', 'type:domain', 'type:crypto', 'type:keystore', 'type:protocol', 'type:kms-core', 'type:kms-adapter', 'type:kms-emulator', 'type:harness'] },
            // The examples' process table and robot-app helpers: they drive the binaries, never import the apps.
            { sourceTag: 'type:harness', onlyDependOnLibsWithTags: ['type:protocol', 'type:domain', 'type:crypto', 'type:tooling'], bannedExternalImports: vendorSdks },
            { sourceTag: 'type:kms-emulator', onlyDependOnLibsWithTags: ['type:tooling', 'type:domain', 'type:crypto'], bannedExternalImports: vendorSdks.filter((p) => p !== '@google-cloud/*') },
            { sourceTag: 'type:kms-adapter', onlyDependOnLibsWithTags: ['type:tooling', 'type:domain', 'type:crypto', 'type:kms-core', 'type:kms-emulator'] },
            // Each adapter is the only importer of its own vendor SDK.
            { sourceTag: 'kms:local', bannedExternalImports: vendorSdks },
            { sourceTag: 'kms:aws', bannedExternalImports: vendorSdks.filter((p) => p !== '@aws-sdk/*') },
            { sourceTag: 'kms:azure', bannedExternalImports: vendorSdks.filter((p) => p !== '@azure/*') },
            { sourceTag: 'kms:gcp', bannedExternalImports: vendorSdks.filter((p) => p !== '@google-cloud/*') },
            { sourceTag: 'kms:vault', bannedExternalImports: vendorSdks.filter((p) => p !== 'node-vault') },
            // The registry names every adapter but loads each lazily, so only the chosen SDK loads.
            { sourceTag: 'type:kms-registry', onlyDependOnLibsWithTags: ['type:kms-core', 'type:kms-adapter', 'type:domain', 'type:crypto'], bannedExternalImports: vendorSdks },
            { sourceTag: 'type:kms-core', onlyDependOnLibsWithTags: ['type:tooling', 'type:domain', 'type:crypto'], bannedExternalImports: vendorSdks },
            { sourceTag: 'type:keystore', onlyDependOnLibsWithTags: ['type:tooling', 'type:domain', 'type:crypto', 'type:kms-core'], bannedExternalImports: vendorSdks },
            { sourceTag: 'type:protocol', onlyDependOnLibsWithTags: ['type:tooling', 'type:domain', 'type:crypto'], bannedExternalImports: vendorSdks },
            { sourceTag: 'type:crypto', onlyDependOnLibsWithTags: ['type:tooling', 'type:domain'], bannedExternalImports: vendorSdks },
            { sourceTag: 'type:tooling', onlyDependOnLibsWithTags: [] },
            // The daemons' logger tells fleetkey errors (whose messages are safe to print) from any other.
            { sourceTag: 'type:cli', onlyDependOnLibsWithTags: ['type:domain'] },
            { sourceTag: 'type:domain', onlyDependOnLibsWithTags: [], bannedExternalImports: vendorSdks },
            { sourceTag: 'scope:agent', onlyDependOnLibsWithTags: ['scope:shared', 'scope:agent'] },
            { sourceTag: 'scope:controller', onlyDependOnLibsWithTags: ['scope:shared', 'scope:controller'] },
            { sourceTag: 'scope:operator', onlyDependOnLibsWithTags: ['scope:shared', 'scope:operator'] },
            { sourceTag: 'scope:shared', onlyDependOnLibsWithTags: ['scope:shared'] },
          ],
        },
      ],
    },
  },
  {
    // The domain library does no I/O and no crypto: it is the vocabulary every other part shares.
    files: ['libs/key-types/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ group: ['node:*', 'fs', 'crypto', 'net', 'http', 'https', 'child_process'], message: 'libs/key-types is domain only: no I/O and no crypto.' }] }],
    },
  },
);
