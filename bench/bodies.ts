/**
 * CheckRequest bodies as Envoy sends them, encoded once with Envoy's official protos and framed
 * for gRPC, so load generators only copy bytes and never pay protobuf costs on the load core.
 */
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { checkRequest, OFFICIAL_OPTIONS } from '../test/support/envoy-client';

export const CHECK_PATH = '/envoy.service.auth.v3.Authorization/Check';

type Serialize = (value: object) => Buffer;

let serializer: Serialize | undefined;

/** proto-loader's own serializer for the official CheckRequest: the bytes a grpc-js client would send. */
function serializeCheckRequest(): Serialize {
  if (serializer) return serializer;
  const definition = protoLoader.loadSync('envoy/service/auth/v3/external_auth.proto', OFFICIAL_OPTIONS);
  const service = definition['envoy.service.auth.v3.Authorization'] as grpc.ServiceDefinition;
  const check = service['Check'];
  if (!check) throw new Error('official protos have no Authorization/Check');
  serializer = (value) => check.requestSerialize(value);
  return serializer;
}

/** gRPC length-prefixed message: 0x00 (not compressed), 4-byte big-endian length, message. */
export function grpcFrame(message: Buffer): Buffer {
  const frame = Buffer.allocUnsafe(5 + message.length);
  frame.writeUInt8(0, 0);
  frame.writeUInt32BE(message.length, 1);
  message.copy(frame, 5);
  return frame;
}

/**
 * What a browser's page load looks like to ext_authz: the usual navigation headers, the
 * forwarding headers Envoy adds, and a Cookie header where the Kratos session cookie sits
 * between analytics, preference and CSRF cookies (so the service has to scan for it).
 */
export function browserHeaders(sessionCookie: string, index: number): Array<[string, string]> {
  return [
    ['user-agent', 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0'],
    ['accept', 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8'],
    ['accept-language', 'en-GB,en;q=0.5'],
    ['accept-encoding', 'gzip, deflate, br, zstd'],
    ['referer', 'https://app.example.com/dashboard'],
    [
      'cookie',
      `_ga=GA1.1.${1_700_000_000 + index}.1700000000; theme=dark; ${sessionCookie}; csrf_token_82b7=kP3xQ2hhbmdlTWUhQ2hhbmdlTWU=`,
    ],
    ['sec-fetch-dest', 'document'],
    ['sec-fetch-mode', 'navigate'],
    ['x-forwarded-for', `203.0.113.${index % 250}`],
    ['x-forwarded-proto', 'https'],
    ['x-request-id', `0b7f5c1e-4d2a-4f6b-9c1d-${String(index).padStart(12, '0')}`],
  ];
}

/** A framed CheckRequest for `GET /projects/42/settings` carrying the given `name=value` session cookie. */
export function browserCheckBody(sessionCookie: string, index = 0): Buffer {
  const request = checkRequest({
    method: 'GET',
    path: '/projects/42/settings?tab=members',
    headers: browserHeaders(sessionCookie, index),
  });
  return grpcFrame(serializeCheckRequest()(request));
}
