import { ScalarType, type DescField, type DescFile, type DescMessage } from '@bufbuild/protobuf';
import { describe, expect, it } from 'vitest';
import { file_fleetkey_v1_agent } from './gen/fleetkey/v1/agent_pb.js';
import { file_fleetkey_v1_device } from './gen/fleetkey/v1/device_pb.js';
import { file_fleetkey_v1_operator } from './gen/fleetkey/v1/operator_pb.js';
import { file_fleetkey_v1_provisioning } from './gen/fleetkey/v1/provisioning_pb.js';
import { fieldLimit } from './limits.js';

// Every fleetkey.v1 message, reached from the service files through their imports.
function fleetkeyMessages(): DescMessage[] {
  const seen = new Set<DescFile>();
  const messages: DescMessage[] = [];
  const visitMessage = (message: DescMessage): void => {
    messages.push(message);
    message.nestedMessages.forEach(visitMessage);
  };
  const visitFile = (file: DescFile): void => {
    if (seen.has(file) || !file.proto.package.startsWith('fleetkey.')) return;
    seen.add(file);
    file.messages.forEach(visitMessage);
    file.dependencies.forEach(visitFile);
  };
  [file_fleetkey_v1_agent, file_fleetkey_v1_device, file_fleetkey_v1_operator, file_fleetkey_v1_provisioning].forEach(visitFile);
  return messages;
}

function isSized(field: DescField): boolean {
  const scalar = field.fieldKind === 'scalar' || (field.fieldKind === 'list' && field.listKind === 'scalar') || (field.fieldKind === 'map' && field.mapKind === 'scalar') ? field.scalar : undefined;
  return scalar === ScalarType.STRING || scalar === ScalarType.BYTES;
}

describe('(fleetkey.v1.limit) coverage', () => {
  it('reaches every message of the package through the service files', () => {
    expect(fleetkeyMessages().length).toBeGreaterThan(80);
  });

  it('bounds every string, bytes, repeated and map field of fleetkey.v1', () => {
    const missing: string[] = [];
    for (const message of fleetkeyMessages()) {
      if (message.typeName === 'fleetkey.v1.FieldLimit') continue;
      for (const field of message.fields) {
        const bounds = fieldLimit(field);
        const where = `${message.typeName}.${field.name}`;
        if (isSized(field) && (bounds === undefined || bounds.maxBytes === 0)) missing.push(`${where}: max_bytes`);
        if ((field.fieldKind === 'list' || field.fieldKind === 'map') && (bounds === undefined || bounds.maxItems === 0)) missing.push(`${where}: max_items`);
      }
    }
    expect(missing).toEqual([]);
  });

  it('marks every fleet, group and device id field as an identifier of at most 64 bytes', () => {
    const loose: string[] = [];
    for (const message of fleetkeyMessages()) {
      for (const field of message.fields) {
        if (field.fieldKind !== 'scalar' || field.scalar !== ScalarType.STRING) continue;
        if (!/^(fleet|group|device_id|.*_device_id|operator_id|request_id)$/.test(field.name)) continue;
        const bounds = fieldLimit(field);
        if (!bounds?.identifier || bounds.maxBytes !== 64) loose.push(`${message.typeName}.${field.name}`);
      }
    }
    expect(loose).toEqual([]);
  });
});
