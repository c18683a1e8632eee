import { status as GrpcStatus } from '@grpc/grpc-js';
import { withMetrics } from '@fleetkey/kms-core';
import { createMemoryKmsProvider } from '@fleetkey/kms-core/testing';
import { ProvisioningService, methodPath } from '@fleetkey/protocol';
import { describe, expect, it } from 'vitest';
import type { AuditAction } from '../store/repository.js';
import { UNKNOWN_LABEL, createControllerMetrics } from './metrics.js';

const enrollPath = methodPath(ProvisioningService, ProvisioningService.methods.find((m) => m.name === 'Enroll')!);

/** The sample lines of one metric family in the exposition text. */
async function samples(metrics: ReturnType<typeof createControllerMetrics>, name: string): Promise<string[]> {
  const text = await metrics.registry.metrics();
  return text.split('\n').filter((line) => line.startsWith(`${name}{`) || line.startsWith(`${name} `));
}

describe('createControllerMetrics', () => {
  it('counts gRPC calls by service, method and status name, and observes their duration', async () => {
    const metrics = createControllerMetrics({ processMetrics: false });
    metrics.observeGrpc(enrollPath, GrpcStatus.OK, 0.004);
    metrics.observeGrpc(enrollPath, GrpcStatus.OK, 0.02);
    metrics.observeGrpc(enrollPath, GrpcStatus.UNAUTHENTICATED, 0.001);
    expect(await samples(metrics, 'fleetkey_grpc_requests_total')).toEqual([
      'fleetkey_grpc_requests_total{service="fleetkey.v1.ProvisioningService",method="Enroll",code="OK"} 2',
      'fleetkey_grpc_requests_total{service="fleetkey.v1.ProvisioningService",method="Enroll",code="UNAUTHENTICATED"} 1',
    ]);
    expect(await samples(metrics, 'fleetkey_grpc_request_duration_seconds_count')).toEqual([
      'fleetkey_grpc_request_duration_seconds_count{service="fleetkey.v1.ProvisioningService",method="Enroll"} 3',
    ]);
  });

  it('Precondition: label values outside the bounded sets collapse to "unknown"', async () => {
    const metrics = createControllerMetrics({ processMetrics: false });
    metrics.observeGrpc('/evil.Service/Anything?token=fk_op_x', 99, Number.NaN);
    metrics.observeGrpc('/fleetkey.v1.ProvisioningService/NoSuchMethod', -1, -5);
    metrics.countEnrollment('fleet with spaces/and slashes', 'NOT_A_CODE' as never);
    metrics.countEnrollment(undefined, 'ENROLLMENT_TOKEN_REJECTED');
    metrics.countAudit('device.delete-everything' as AuditAction, 'maybe' as never);
    metrics.kmsSink.record({ provider: 'Evil Provider', operation: 'exfiltrate' as never, ok: false, errorCode: 'free text', latencyMs: 3 });
    const text = await metrics.registry.metrics();
    expect(text).not.toContain('evil');
    expect(text).not.toContain('fk_op_');
    expect(text).not.toContain('spaces');
    expect(text).not.toContain('NoSuchMethod');
    expect(text).not.toContain('free text');
    expect(await samples(metrics, 'fleetkey_grpc_requests_total')).toEqual([
      `fleetkey_grpc_requests_total{service="${UNKNOWN_LABEL}",method="${UNKNOWN_LABEL}",code="${UNKNOWN_LABEL}"} 2`,
    ]);
    // A NaN or negative duration is dropped rather than poisoning the histogram.
    expect(await samples(metrics, 'fleetkey_grpc_request_duration_seconds_count')).toEqual([]);
    expect(await samples(metrics, 'fleetkey_enrollments_total')).toEqual([
      'fleetkey_enrollments_total{fleet="unknown",result="unknown"} 1',
      'fleetkey_enrollments_total{fleet="unknown",result="ENROLLMENT_TOKEN_REJECTED"} 1',
    ]);
    expect(await samples(metrics, 'fleetkey_audit_records_total')).toEqual(['fleetkey_audit_records_total{action="unknown",result="unknown"} 1']);
    expect(await samples(metrics, 'fleetkey_kms_operations_total')).toEqual([
      'fleetkey_kms_operations_total{provider="unknown",operation="unknown",outcome="unknown"} 1',
    ]);
  });

  it('counts enrollments per fleet and audit records per action and result', async () => {
    const metrics = createControllerMetrics({ processMetrics: false });
    metrics.countEnrollment('fleet-a', 'ok');
    metrics.countEnrollment('fleet-a', 'ok');
    metrics.countEnrollment('fleet-b', 'CSR_INVALID');
    metrics.countEnrollment('fleet-b', 'internal');
    metrics.countAudit('device.enroll', 'ok');
    metrics.countAudit('token.burn', 'denied');
    expect(await samples(metrics, 'fleetkey_enrollments_total')).toEqual([
      'fleetkey_enrollments_total{fleet="fleet-a",result="ok"} 2',
      'fleetkey_enrollments_total{fleet="fleet-b",result="CSR_INVALID"} 1',
      'fleetkey_enrollments_total{fleet="fleet-b",result="internal"} 1',
    ]);
    expect(await samples(metrics, 'fleetkey_audit_records_total')).toEqual([
      'fleetkey_audit_records_total{action="device.enroll",result="ok"} 1',
      'fleetkey_audit_records_total{action="token.burn",result="denied"} 1',
    ]);
  });

  it('is the sink of withMetrics: real provider calls show up with their outcome and duration', async () => {
    const metrics = createControllerMetrics({ processMetrics: false });
    const memory = createMemoryKmsProvider({ name: 'local' });
    const provider = withMetrics(memory.provider, metrics.kmsSink);
    const key = await provider.createKey({ spec: 'AES_256' });
    await provider.generateDataKey({ keyId: key.keyId });
    await expect(provider.describeKey('no-such-key')).rejects.toThrow();
    const counts = await samples(metrics, 'fleetkey_kms_operations_total');
    expect(counts).toContain('fleetkey_kms_operations_total{provider="local",operation="createKey",outcome="ok"} 1');
    expect(counts).toContain('fleetkey_kms_operations_total{provider="local",operation="generateDataKey",outcome="ok"} 1');
    expect(counts.some((line) => line.startsWith('fleetkey_kms_operations_total{provider="local",operation="describeKey",outcome="KMS_KEY_NOT_FOUND"}'))).toBe(true);
    expect(await samples(metrics, 'fleetkey_kms_operation_duration_seconds_count')).toHaveLength(3);
  });

  it('sets the MQTT client gauge and ignores impossible counts', async () => {
    const metrics = createControllerMetrics({ processMetrics: false });
    metrics.setMqttClients(7);
    metrics.setMqttClients(-1);
    metrics.setMqttClients(2.5);
    expect(await samples(metrics, 'fleetkey_mqtt_clients')).toEqual(['fleetkey_mqtt_clients 7']);
  });

  it('gives every controller its own registry, with the process metrics on it', async () => {
    const first = createControllerMetrics();
    const second = createControllerMetrics();
    first.countAudit('controller.start', 'ok');
    expect(await samples(first, 'fleetkey_audit_records_total')).toHaveLength(1);
    expect(await samples(second, 'fleetkey_audit_records_total')).toEqual([]);
    expect(await first.registry.metrics()).toMatch(/^process_cpu_user_seconds_total \d/m);
    expect(first.registry.contentType).toContain('text/plain');
  });
});
