import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { decodeCheckRequest, encodeCheckResponse, RequestHeadTooLarge } from './codec';
import type { CheckRequest, CheckResponse, UnreadableCheckRequest } from './messages';

/** The folder holding this package's own .proto files, found from the compiled file's location. */
export function protoDirectory(from = __dirname): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'proto'))) return join(dir, 'proto');
    if (dirname(dir) === dir) throw new Error(`no proto/ folder above ${from}`);
  }
}

// keepCase: field names stay Envoy's snake_case, which the whole adapter (and Struct values,
// where a wrong spelling is silently dropped) depends on. longs: String keeps int64 `size` exact.
export const PROTO_OPTIONS: protoLoader.Options = { keepCase: true, longs: String, enums: Number, defaults: false, oneofs: false };

export function loadAuthorizationService(): grpc.ServiceDefinition {
  const definition = protoLoader.loadSync('envoy/service/auth/v3/external_auth.proto', { ...PROTO_OPTIONS, includeDirs: [protoDirectory()] });
  const loaded = grpc.loadPackageDefinition(definition) as unknown as {
    envoy: { service: { auth: { v3: { Authorization: grpc.ServiceClientConstructor } } } };
  };
  return loaded.envoy.service.auth.v3.Authorization.service;
}

/**
 * The service as this server registers it: proto-loader's definition (method path, names) with
 * the hand-written codec on the two directions the server uses.
 */
export function loadAuthorizationServiceForServer(): grpc.ServiceDefinition {
  const service = loadAuthorizationService();
  const check = service.Check;
  if (!check) throw new Error('envoy.service.auth.v3.Authorization has no Check method in proto/');
  return {
    ...service,
    Check: {
      ...check,
      requestDeserialize: readCheckRequestBytes,
      responseSerialize: (response: CheckResponse) => encodeCheckResponse(response),
    },
  };
}

/**
 * Envoy caps request headers at 8 MiB (max_request_headers_kb); a larger CheckRequest carries a
 * body this service never reads, and is denied before decoding.
 */
export const MAX_CHECK_REQUEST_BYTES = 8 * 1024 * 1024;

/** Never throws: grpc-js would turn a thrown error into a failed RPC. */
function readCheckRequestBytes(bytes: Buffer): CheckRequest | UnreadableCheckRequest {
  if (bytes.length > MAX_CHECK_REQUEST_BYTES) return { unreadable: 'too_large', detail: `the CheckRequest is ${bytes.length} bytes, over ${MAX_CHECK_REQUEST_BYTES}` };
  try {
    return decodeCheckRequest(bytes);
  } catch (error) {
    if (error instanceof RequestHeadTooLarge) return { unreadable: 'too_large', detail: error.message };
    return { unreadable: 'undecodable', detail: `the CheckRequest cannot be read: ${error instanceof Error ? error.message : 'unreadable'}` };
  }
}

export const AUTHORIZATION_SERVICE_NAME = 'envoy.service.auth.v3.Authorization';
