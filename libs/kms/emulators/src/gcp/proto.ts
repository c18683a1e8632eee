/**
 * Loads the Cloud KMS v1 service definition from the very protos `@google-cloud/kms` ships, so the
 * emulator speaks exactly the wire format the real SDK encodes (field numbers, wrappers, enums).
 * `google/api/*` and `google/protobuf/*` imports resolve from google-gax's bundled protos, found
 * through the KMS package's own dependency resolution rather than a hard-coded path.
 *
 * Trust boundary: reads installed package files only.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { loadSync } from '@grpc/proto-loader';
import { loadPackageDefinition } from '@grpc/grpc-js';
import type { ServiceDefinition } from '@grpc/grpc-js';

let cached: ServiceDefinition | undefined;

function protoRoots(): { kms: string; gax: string } {
  const require = createRequire(import.meta.url);
  const kmsMain = require.resolve('@google-cloud/kms'); // …/@google-cloud/kms/build/src/index.js
  const gaxMain = createRequire(kmsMain).resolve('google-gax'); // …/google-gax/build/src/index.js
  return { kms: join(dirname(kmsMain), '..', 'protos'), gax: join(dirname(gaxMain), '..', 'protos') };
}

/**
 * The `google.cloud.kms.v1.KeyManagementService` definition. Messages decode with snake_case
 * field names (keepCase), 64-bit integers as JS numbers (CRC32C values never exceed 2^32 - 1),
 * enums as their names, bytes as Buffers, absent fields absent (no defaults) so the handlers can
 * tell "not sent" from "zero".
 */
export function keyManagementServiceDefinition(): ServiceDefinition {
  if (cached) return cached;
  const roots = protoRoots();
  const definition = loadSync('google/cloud/kms/v1/service.proto', {
    includeDirs: [roots.kms, roots.gax],
    keepCase: true,
    longs: Number,
    enums: String,
    bytes: Buffer,
    defaults: false,
    oneofs: true,
  });
  const loaded = loadPackageDefinition(definition) as unknown as {
    google: { cloud: { kms: { v1: { KeyManagementService: { service: ServiceDefinition } } } } };
  };
  cached = loaded.google.cloud.kms.v1.KeyManagementService.service;
  return cached;
}
