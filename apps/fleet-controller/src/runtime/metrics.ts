/**
 * The controller's Prometheus metrics: one prom-client Registry per controller (never the global
 * one, so two controllers in one process — tests — do not share counters), with the process
 * defaults, gRPC calls, enrollments, KMS operations (through the KmsMetricsSink port of
 * `withMetrics`), connected MQTT clients and audit records.
 *
 * Label values are bounded by construction: gRPC services and methods come from the proto
 * descriptors, codes from the gRPC status and FleetkeyError code lists, audit actions and results
 * from the store's lists, fleets must be identifiers (the fleet of a stored record, never request
 * text). Anything else is counted under `unknown`, so no caller can grow a series set with free
 * text. Recording never throws: metrics must not break the call they describe.
 *
 * Trust boundary: /metrics is readable by whoever reaches the probe port; nothing here carries a
 * secret, an error message, a device id or a key id.
 */
import type { DescService } from '@bufbuild/protobuf';
import { status as GrpcStatus } from '@grpc/grpc-js';
import { isValidIdentifier, type FleetkeyErrorCode } from '@fleetkey/key-types';
import { KMS_PROVIDER_METHODS, type KmsMetricRecord, type KmsMetricsSink } from '@fleetkey/kms-core';
import { DeviceService, OperatorService, ProvisioningService, STATUS_BY_ERROR_CODE, methodPath } from '@fleetkey/protocol';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { AUDIT_ACTIONS, AUDIT_RESULTS, type AuditAction, type AuditResult } from '../store/repository.js';

/** The label value of anything outside its bounded set. */
export const UNKNOWN_LABEL = 'unknown';
/** The services the controller serves (the agent's local API is not among them). */
export const CONTROLLER_SERVICES: readonly DescService[] = Object.freeze([ProvisioningService, DeviceService, OperatorService]);
/** Seconds; unary calls are milliseconds, a KMS round trip up to seconds, a deadline tens of seconds. */
export const GRPC_DURATION_BUCKETS: readonly number[] = Object.freeze([0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]);
export const KMS_DURATION_BUCKETS: readonly number[] = Object.freeze([0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]);

/** 'ok', the FleetkeyError code that refused it, or 'internal' for anything else. */
export type EnrollmentResult = 'ok' | FleetkeyErrorCode | 'internal';

export interface ControllerMetrics {
  readonly registry: Registry;
  /**
   * One finished gRPC call. `path` is the full method path (`/fleetkey.v1.ProvisioningService/Enroll`,
   * as `methodPath` makes it), `code` the gRPC status code it ended with.
   */
  observeGrpc(path: string, code: number, durationSeconds: number): void;
  /** One enrollment attempt; `fleet` is the fleet of the token's record, undefined when none matched. */
  countEnrollment(fleet: string | undefined, result: EnrollmentResult): void;
  /** Pass to `withMetrics(provider, metrics.kmsSink)`. */
  readonly kmsSink: KmsMetricsSink;
  setMqttClients(count: number): void;
  countAudit(action: AuditAction, result: AuditResult): void;
}

export interface ControllerMetricsOptions {
  /** Services whose methods are label values; default CONTROLLER_SERVICES. */
  readonly services?: readonly DescService[];
  /** prom-client's process metrics (CPU, memory, event loop, GC); default true. */
  readonly processMetrics?: boolean;
}

const ERROR_CODES: ReadonlySet<string> = new Set(Object.keys(STATUS_BY_ERROR_CODE));
const KMS_OPERATIONS: ReadonlySet<string> = new Set(KMS_PROVIDER_METHODS);
/** Provider names follow the provider rule `[a-z0-9-]`, 1..32 (kms-core); set by configuration. */
const PROVIDER_NAME = /^[a-z0-9-]{1,32}$/;

function grpcCodeName(code: number): string {
  const name: unknown = Number.isInteger(code) ? GrpcStatus[code] : undefined;
  return typeof name === 'string' ? name : UNKNOWN_LABEL;
}

function oneOf(value: unknown, allowed: ReadonlySet<string>): string {
  return typeof value === 'string' && allowed.has(value) ? value : UNKNOWN_LABEL;
}

function validSeconds(value: number): boolean {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0;
}

/**
 * A fresh registry with every controller metric registered on it.
 * @throws TypeError when `options.services` is not an array of service descriptors.
 */
export function createControllerMetrics(options: ControllerMetricsOptions = {}): ControllerMetrics {
  const services = options.services ?? CONTROLLER_SERVICES;
  if (!Array.isArray(services)) throw new TypeError('"services" expected an array of service descriptors');
  const methodsByPath = new Map<string, { service: string; method: string }>();
  for (const service of services) {
    for (const method of service.methods) methodsByPath.set(methodPath(service, method), { service: service.typeName, method: method.name });
  }

  const registry = new Registry();
  const registers = [registry];
  if (options.processMetrics !== false) collectDefaultMetrics({ register: registry });

  const grpcRequests = new Counter({
    name: 'fleetkey_grpc_requests_total',
    help: 'gRPC calls served, by service, method and final status code.',
    labelNames: ['service', 'method', 'code'] as const,
    registers,
  });
  const grpcDuration = new Histogram({
    name: 'fleetkey_grpc_request_duration_seconds',
    help: 'Duration of served gRPC calls, by service and method.',
    labelNames: ['service', 'method'] as const,
    buckets: [...GRPC_DURATION_BUCKETS],
    registers,
  });
  const enrollments = new Counter({
    name: 'fleetkey_enrollments_total',
    help: 'Device enrollment attempts, by fleet and result (ok or the error code).',
    labelNames: ['fleet', 'result'] as const,
    registers,
  });
  const kmsOperations = new Counter({
    name: 'fleetkey_kms_operations_total',
    help: 'KMS provider calls, by provider, operation and outcome (ok or the error code).',
    labelNames: ['provider', 'operation', 'outcome'] as const,
    registers,
  });
  const kmsDuration = new Histogram({
    name: 'fleetkey_kms_operation_duration_seconds',
    help: 'Duration of KMS provider calls, by provider and operation.',
    labelNames: ['provider', 'operation'] as const,
    buckets: [...KMS_DURATION_BUCKETS],
    registers,
  });
  const mqttClients = new Gauge({
    name: 'fleetkey_mqtt_clients',
    help: 'Devices connected to the embedded MQTT broker.',
    registers,
  });
  const auditRecords = new Counter({
    name: 'fleetkey_audit_records_total',
    help: 'Audit records appended, by action and result.',
    labelNames: ['action', 'result'] as const,
    registers,
  });

  const auditActions: ReadonlySet<string> = new Set(AUDIT_ACTIONS);
  const auditResults: ReadonlySet<string> = new Set(AUDIT_RESULTS);

  return Object.freeze({
    registry,
    observeGrpc(path: string, code: number, durationSeconds: number): void {
      const known = typeof path === 'string' ? methodsByPath.get(path) : undefined;
      const service = known?.service ?? UNKNOWN_LABEL;
      const method = known?.method ?? UNKNOWN_LABEL;
      grpcRequests.inc({ service, method, code: grpcCodeName(code) });
      if (validSeconds(durationSeconds)) grpcDuration.observe({ service, method }, durationSeconds);
    },
    countEnrollment(fleet: string | undefined, result: EnrollmentResult): void {
      const resultLabel = result === 'ok' || result === 'internal' ? result : oneOf(result, ERROR_CODES);
      enrollments.inc({ fleet: isValidIdentifier(fleet) ? fleet : UNKNOWN_LABEL, result: resultLabel });
    },
    kmsSink: Object.freeze({
      record(record: KmsMetricRecord): void {
        const provider = typeof record?.provider === 'string' && PROVIDER_NAME.test(record.provider) ? record.provider : UNKNOWN_LABEL;
        const operation = oneOf(record?.operation, KMS_OPERATIONS);
        // withMetrics reports 'UNKNOWN' for a non-fleetkey failure; it stays in the bounded set.
        const outcome = record?.ok === true ? 'ok' : record?.errorCode === 'UNKNOWN' ? 'UNKNOWN' : oneOf(record?.errorCode, ERROR_CODES);
        kmsOperations.inc({ provider, operation, outcome });
        const seconds = record?.latencyMs / 1000;
        if (validSeconds(seconds)) kmsDuration.observe({ provider, operation }, seconds);
      },
    }),
    setMqttClients(count: number): void {
      if (Number.isSafeInteger(count) && count >= 0) mqttClients.set(count);
    },
    countAudit(action: AuditAction, result: AuditResult): void {
      auditRecords.inc({ action: oneOf(action, auditActions), result: oneOf(result, auditResults) });
    },
  });
}
