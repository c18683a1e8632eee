/**
 * @fleetkey/protocol — the wire contract of fleetkey in TypeScript: the generated protobuf-es
 * messages and service descriptors of proto/fleetkey/v1, the generic gRPC adapter, the MQTT
 * topic scheme and ACLs, the message codec with its size limits, and the signing rule of signed
 * payloads.
 *
 * Trust boundary: everything here sits on the edge between the network and the rest of the
 * system; decodeMessage, parseTopic, verifyPayload and the gRPC adapter are the doors untrusted
 * bytes come through.
 */
export * from './gen/fleetkey/v1/limits_pb.js';
export * from './gen/fleetkey/v1/common_pb.js';
export * from './gen/fleetkey/v1/messages_pb.js';
export * from './gen/fleetkey/v1/agent_pb.js';
export * from './gen/fleetkey/v1/provisioning_pb.js';
export * from './gen/fleetkey/v1/device_pb.js';
export * from './gen/fleetkey/v1/resources_pb.js';
export * from './gen/fleetkey/v1/operator_pb.js';
export * from './errors.js';
export * from './limits.js';
export * from './codec.js';
export * from './enums.js';
export * from './signed.js';
export * from './topics.js';
export * from './acl.js';
export * from './grpc/index.js';
export * from './key-bundle.js';
