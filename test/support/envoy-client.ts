/**
 * A Check client built from Envoy's official API protos (shipped in @grpc/grpc-js-xds), so the
 * tests talk to the server exactly as Envoy's schema says, not as our own proto/ does.
 */
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

const DEPS = join(require.resolve('@grpc/grpc-js-xds/package.json'), '..', 'deps');
export const OFFICIAL_INCLUDE_DIRS = ['envoy-api', 'googleapis', 'xds', 'protoc-gen-validate'].map((dir) =>
  join(DEPS, dir),
);

/** CheckResponse as decoded with the official protos (keepCase, enums as numbers, defaults filled). */
export interface OfficialHeaderOption {
  header: { key: string; value: string; raw_value: Buffer };
  append: { value: boolean } | null;
  append_action: number;
}
/** google.protobuf.Value: protobufjs names the well-known types' fields in camelCase. */
export interface OfficialStructValue {
  stringValue?: string;
  numberValue?: number;
  boolValue?: boolean;
  kind?: string;
}
export interface OfficialCheckResponse {
  status: { code: number; message: string } | null;
  denied_response?: { status: { code: number } | null; headers: OfficialHeaderOption[]; body: string } | null;
  ok_response?: {
    headers: OfficialHeaderOption[];
    headers_to_remove: string[];
    response_headers_to_add: OfficialHeaderOption[];
  } | null;
  dynamic_metadata: { fields: Record<string, OfficialStructValue> } | null;
  http_response?: string;
}

export const OFFICIAL_OPTIONS: protoLoader.Options = {
  keepCase: true,
  longs: String,
  enums: Number,
  defaults: true,
  oneofs: true,
  includeDirs: OFFICIAL_INCLUDE_DIRS,
};

type CheckClient = grpc.Client & {
  Check(
    request: object,
    metadata: grpc.Metadata,
    options: grpc.CallOptions,
    callback: (error: grpc.ServiceError | null, response?: OfficialCheckResponse) => void,
  ): grpc.ClientUnaryCall;
};

function loadDefinition(): protoLoader.PackageDefinition {
  return protoLoader.loadSync('envoy/service/auth/v3/external_auth.proto', OFFICIAL_OPTIONS);
}

type CheckClientConstructor = new (
  address: string,
  credentials: grpc.ChannelCredentials,
  options?: grpc.ChannelOptions,
) => CheckClient;

function loadClientConstructor(): CheckClientConstructor {
  const definition = loadDefinition();
  const loaded = grpc.loadPackageDefinition(definition) as unknown as {
    envoy: {
      service: {
        auth: { v3: { Authorization: CheckClientConstructor } };
      };
    };
  };
  return loaded.envoy.service.auth.v3.Authorization;
}

let loadedCheckMethod: protoLoader.MethodDefinition<object, object> | undefined;

/** The Check method of the official protos, loaded once: the fuzzers send thousands of calls. */
function checkMethod(): protoLoader.MethodDefinition<object, object> {
  if (!loadedCheckMethod) {
    const check = loadDefinition()['envoy.service.auth.v3.Authorization'] as protoLoader.ServiceDefinition;
    loadedCheckMethod = check['Check'];
    if (!loadedCheckMethod) throw new Error('no Check method in the official protos');
  }
  return loadedCheckMethod;
}

export type HeaderInput = Record<string, string> | Array<[string, string | Buffer]>;

/** What a test says about a request; the rest is filled in the way Envoy fills it. */
export interface CheckSpec {
  method?: string;
  path?: string;
  host?: string;
  scheme?: string;
  headers?: HeaderInput;
  /** `map` = Envoy's default `headers` map (duplicates joined with ","), `raw` = encode_raw_headers. */
  encoding?: 'map' | 'raw';
  contextExtensions?: Record<string, string>;
}

/** Builds a CheckRequest object (official field names) as Envoy would send it. */
export function checkRequest(spec: CheckSpec = {}): object {
  const method = spec.method ?? 'GET';
  const path = spec.path ?? '/';
  const host = spec.host ?? 'app.example.com';
  const scheme = spec.scheme ?? 'https';
  const given: Array<[string, string | Buffer]> = Array.isArray(spec.headers)
    ? spec.headers
    : Object.entries(spec.headers ?? {});
  const lines: Array<[string, string | Buffer]> = [
    [':authority', host],
    [':path', path],
    [':method', method],
    [':scheme', scheme],
    ...given,
  ];
  const http: Record<string, unknown> = {
    id: '8306787481883314548',
    method,
    path,
    host,
    scheme,
    protocol: 'HTTP/2',
    size: '0',
  };
  if (spec.encoding === 'raw') {
    http.header_map = {
      headers: lines.map(([key, value]) => ({
        key,
        raw_value: Buffer.isBuffer(value) ? value : Buffer.from(value, 'utf8'),
      })),
    };
  } else {
    const joined: Record<string, string> = {};
    for (const [key, value] of lines) {
      const text = Buffer.isBuffer(value) ? value.toString('utf8') : value;
      joined[key] = key in joined ? `${joined[key]},${text}` : text;
    }
    http.headers = joined;
  }
  return {
    attributes: {
      request: { time: { seconds: '1700000000' }, http },
      context_extensions: spec.contextExtensions ?? {},
      source: { address: { socket_address: { address: '10.0.0.7', port_value: 51234 } } },
    },
  };
}

export class EnvoyClient {
  private readonly client: CheckClient;

  /** `options`: e.g. `grpc.use_local_subchannel_pool`, for a connection of its own rather than one shared with other clients. */
  constructor(port: number, options?: grpc.ChannelOptions) {
    const Client = loadClientConstructor();
    this.client = new Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), options);
  }

  /**
   * Sends a CheckRequest (a spec, or a raw object for malformed cases); resolves the response or
   * rejects with the gRPC error. `metadata`: the call's headers, as Envoy's trace context.
   */
  send(
    request: object,
    deadlineMs = 5_000,
    metadata: Readonly<Record<string, string>> = {},
  ): Promise<OfficialCheckResponse> {
    const callMetadata = new grpc.Metadata();
    for (const [name, value] of Object.entries(metadata)) callMetadata.set(name, value);
    return new Promise((resolve, reject) => {
      this.client.Check(request, callMetadata, { deadline: Date.now() + deadlineMs }, (error, response) =>
        error || !response ? reject(error) : resolve(response),
      );
    });
  }

  check(
    spec: CheckSpec = {},
    deadlineMs?: number,
    metadata?: Readonly<Record<string, string>>,
  ): Promise<OfficialCheckResponse> {
    return this.send(checkRequest(spec), deadlineMs, metadata);
  }

  /** Sends `bytes` as the CheckRequest message, unencoded: for what no schema would produce. */
  sendBytes(bytes: Buffer, deadlineMs = 5_000): Promise<OfficialCheckResponse> {
    const method = checkMethod();
    return new Promise((resolve, reject) => {
      this.client.makeUnaryRequest<Buffer, OfficialCheckResponse>(
        method.path,
        (raw) => raw,
        (response) => method.responseDeserialize(response) as OfficialCheckResponse,
        bytes,
        { deadline: Date.now() + deadlineMs },
        (error, response) => (error || !response ? reject(error) : resolve(response)),
      );
    });
  }

  close(): void {
    this.client.close();
  }
}

/** The HTTP status Envoy would answer with: 200 for OK, else denied_response.status.code (403 when unset). */
export function httpStatusOf(response: OfficialCheckResponse): number {
  if ((response.status?.code ?? 0) === 0) return 200;
  return response.denied_response?.status?.code || 403;
}

export function deniedHeader(response: OfficialCheckResponse, name: string): string | undefined {
  return response.denied_response?.headers.find((option) => option.header.key === name)?.header.value;
}

export function deniedJson(response: OfficialCheckResponse): Record<string, unknown> {
  return JSON.parse(response.denied_response?.body ?? '') as Record<string, unknown>;
}

/** Request headers an OK answer sets upstream, as name → value. */
export function upstreamHeaders(response: OfficialCheckResponse): Record<string, string> {
  return Object.fromEntries(
    (response.ok_response?.headers ?? []).map((option) => [option.header.key, option.header.value]),
  );
}

/** dynamic_metadata as a plain object of its string values. */
export function metadataOf(response: OfficialCheckResponse): Record<string, string | undefined> {
  return Object.fromEntries(
    Object.entries(response.dynamic_metadata?.fields ?? {}).map(([key, value]) => [key, value.stringValue]),
  );
}
