// Validates envoy/envoy.yaml against Envoy's official v3 protos (shipped in the devDependency
// @grpc/grpc-js-xds) and checks that it agrees with the service configuration.
//
// The validator walks the YAML the way Envoy's own proto3-JSON loader does: every key must be a
// field of the current message (snake_case or its JSON camelCase name), `typed_config` and other
// google.protobuf.Any values are resolved through their "@type", enums must name a defined value,
// well-known types (Duration, wrappers, Struct, ...) get their JSON forms, repeated fields must be
// lists, maps check their values, at most one member of a oneof may be set, and the
// protoc-gen-validate rules Envoy enforces at load time for required messages, non-empty strings,
// required oneofs and non-empty lists are applied. Deprecated fields and enum values are rejected so the
// file stays valid on current Envoy releases.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { dirname, isAbsolute, join } from 'node:path';
import * as protobuf from 'protobufjs';
import { parseDuration } from '../../src/config/duration';
import { OFFICIAL_INCLUDE_DIRS } from '../support/envoy-client';
import {
  arr,
  isObject,
  type Json,
  type JsonObject,
  obj,
  portOf,
  PROTO_DURATION,
  protoDurationMs,
  readYaml,
  str,
} from '../support/project-files';

const TYPE_PREFIX = 'type.googleapis.com/';

// ---------------------------------------------------------------------------------------------
// Loading Envoy's protos

const includeDirs = [
  ...OFFICIAL_INCLUDE_DIRS,
  // google/protobuf/descriptor.proto (needed by the annotation protos) ships with protobufjs.
  dirname(require.resolve('protobufjs/package.json')),
];

/** Every extension the config may reference through "@type". */
const extensionProtos = [
  'envoy/config/bootstrap/v3/bootstrap.proto',
  'envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.proto',
  'envoy/extensions/filters/http/ext_authz/v3/ext_authz.proto',
  'envoy/extensions/filters/http/cors/v3/cors.proto',
  'envoy/extensions/filters/http/header_mutation/v3/header_mutation.proto',
  'envoy/extensions/filters/http/router/v3/router.proto',
  'envoy/extensions/upstreams/http/v3/http_protocol_options.proto',
  'envoy/extensions/access_loggers/stream/v3/stream.proto',
  'envoy/extensions/access_loggers/file/v3/file.proto',
];

function loadEnvoyProtos(): protobuf.Root {
  const root = new protobuf.Root();
  root.resolvePath = (_origin: string, target: string): string | null => {
    if (isAbsolute(target) && existsSync(target)) return target;
    for (const dir of includeDirs) {
      const candidate = join(dir, target);
      if (existsSync(candidate)) return candidate;
    }
    return null;
  };
  root.loadSync(extensionProtos, { keepCase: true });
  root.resolveAll();
  return root;
}

// ---------------------------------------------------------------------------------------------
// The validator

const WRAPPERS: Record<string, string> = {
  'google.protobuf.BoolValue': 'bool',
  'google.protobuf.StringValue': 'string',
  'google.protobuf.BytesValue': 'bytes',
  'google.protobuf.Int32Value': 'int32',
  'google.protobuf.UInt32Value': 'uint32',
  'google.protobuf.Int64Value': 'int64',
  'google.protobuf.UInt64Value': 'uint64',
  'google.protobuf.DoubleValue': 'double',
  'google.protobuf.FloatValue': 'float',
};

type FieldOptions = Record<string, unknown> | undefined;

function jsonName(field: protobuf.Field): string {
  const explicit = (field.options as FieldOptions)?.['json_name'];
  if (typeof explicit === 'string') return explicit;
  return field.name.replace(/_([a-z0-9])/g, (_m: string, c: string) => c.toUpperCase());
}

function typeName(type: protobuf.ReflectionObject): string {
  return type.fullName.replace(/^\./, '');
}

class EnvoyConfigValidator {
  constructor(private readonly root: protobuf.Root) {}

  /** Returns one line per problem; an empty list means the value is a valid `messageType`. */
  validate(value: Json, messageType: string): string[] {
    const errors: string[] = [];
    this.checkMessage(value, this.root.lookupType(messageType), '', errors);
    return errors;
  }

  private checkMessage(value: Json, type: protobuf.Type, path: string, errors: string[]): void {
    const name = typeName(type);
    if (this.checkWellKnown(value, name, path, errors)) return;
    if (!isObject(value)) {
      errors.push(`${path || '/'}: expected a mapping for ${name}`);
      return;
    }
    if (name === 'google.protobuf.Any') {
      this.checkAny(value, path, errors);
      return;
    }
    const byName = new Map<string, protobuf.Field>();
    for (const field of type.fieldsArray) {
      byName.set(field.name, field);
      byName.set(jsonName(field), field);
    }
    const seen = new Map<protobuf.Field, string>();
    for (const [key, child] of Object.entries(value)) {
      const field = byName.get(key);
      const childPath = `${path}/${key}`;
      if (!field) {
        errors.push(`${childPath}: unknown field "${key}" in ${name}`);
        continue;
      }
      const earlier = seen.get(field);
      if (earlier !== undefined) {
        errors.push(`${childPath}: field set twice (also as "${earlier}") in ${name}`);
        continue;
      }
      seen.set(field, key);
      if ((field.options as FieldOptions)?.['deprecated'] === true) {
        errors.push(`${childPath}: field "${field.name}" of ${name} is deprecated`);
      }
      this.checkField(child, field, childPath, errors);
    }
    // oneofs: at most one member; exactly one when (validate.required).
    for (const oneof of type.oneofsArray) {
      const set = oneof.fieldsArray.filter((f) => seen.has(f));
      if (set.length > 1) {
        errors.push(
          `${path || '/'}: oneof "${oneof.name}" of ${name} has several members set: ${set.map((f) => f.name).join(', ')}`,
        );
      }
      if (set.length === 0 && (oneof.options as FieldOptions)?.['(validate.required)'] === true) {
        errors.push(`${path || '/'}: ${name} requires one of ${oneof.fieldsArray.map((f) => f.name).join(' | ')}`);
      }
    }
    // protoc-gen-validate rules on fields that are absent (checked at load time by Envoy).
    for (const field of type.fieldsArray) {
      if (seen.has(field) || field.partOf) continue;
      const options = field.options as FieldOptions;
      const missing = `${path}/${field.name}: required by ${name}`;
      if (options?.['(validate.rules).message.required'] === true) errors.push(missing);
      else if (Number(options?.['(validate.rules).string.min_len'] ?? 0) > 0) errors.push(missing);
      else if (Number(options?.['(validate.rules).string.min_bytes'] ?? 0) > 0) errors.push(missing);
      else if (Number(options?.['(validate.rules).repeated.min_items'] ?? 0) > 0) errors.push(missing);
    }
  }

  private checkAny(value: JsonObject, path: string, errors: string[]): void {
    const url = value['@type'];
    if (typeof url !== 'string') {
      errors.push(`${path}: google.protobuf.Any without "@type"`);
      return;
    }
    if (!url.startsWith(TYPE_PREFIX)) {
      errors.push(`${path}/@type: "${url}" does not start with ${TYPE_PREFIX}`);
      return;
    }
    let inner: protobuf.Type;
    try {
      inner = this.root.lookupType(url.slice(TYPE_PREFIX.length));
    } catch {
      errors.push(`${path}/@type: "${url}" does not resolve to a loaded Envoy message`);
      return;
    }
    const rest: JsonObject = { ...value };
    delete rest['@type'];
    this.checkMessage(rest, inner, path, errors);
  }

  /** Returns true when `name` is a well-known type handled here. */
  private checkWellKnown(value: Json, name: string, path: string, errors: string[]): boolean {
    const at = path || '/';
    switch (name) {
      case 'google.protobuf.Struct':
        if (!isObject(value)) errors.push(`${at}: expected a mapping (Struct)`);
        return true;
      case 'google.protobuf.Value':
        return true;
      case 'google.protobuf.ListValue':
        if (!Array.isArray(value)) errors.push(`${at}: expected a list (ListValue)`);
        return true;
      case 'google.protobuf.Duration':
        if (typeof value !== 'string' || !PROTO_DURATION.test(value)) {
          errors.push(`${at}: invalid Duration ${JSON.stringify(value)} (use e.g. "0.25s")`);
        }
        return true;
      case 'google.protobuf.Timestamp':
        if (typeof value !== 'string' || Number.isNaN(Date.parse(value))) errors.push(`${at}: invalid Timestamp`);
        return true;
      case 'google.protobuf.FieldMask':
        if (typeof value !== 'string') errors.push(`${at}: invalid FieldMask`);
        return true;
      case 'google.protobuf.Empty':
        if (!isObject(value) || Object.keys(value).length > 0) errors.push(`${at}: expected {} (Empty)`);
        return true;
      default: {
        const scalar = WRAPPERS[name];
        if (scalar === undefined) return false;
        this.checkScalar(value, scalar, at, errors);
        return true;
      }
    }
  }

  private checkField(value: Json, field: protobuf.Field, path: string, errors: string[]): void {
    if (field.map) {
      if (!isObject(value)) {
        const keyType = field instanceof protobuf.MapField ? field.keyType : '?';
        errors.push(`${path}: expected a mapping (map<${keyType}, ${field.type}>)`);
        return;
      }
      for (const [key, entry] of Object.entries(value)) this.checkSingular(entry, field, `${path}/${key}`, errors);
      return;
    }
    if (field.repeated) {
      if (!Array.isArray(value)) {
        errors.push(`${path}: expected a list`);
        return;
      }
      value.forEach((entry, i) => this.checkSingular(entry, field, `${path}/${i}`, errors));
      return;
    }
    this.checkSingular(value, field, path, errors);
  }

  private checkSingular(value: Json, field: protobuf.Field, path: string, errors: string[]): void {
    const resolved = field.resolvedType;
    if (resolved instanceof protobuf.Type) {
      this.checkMessage(value, resolved, path, errors);
    } else if (resolved instanceof protobuf.Enum) {
      this.checkEnum(value, resolved, path, errors);
    } else {
      this.checkScalar(value, field.type, path, errors);
      const minLen = Number((field.options as FieldOptions)?.['(validate.rules).string.min_len'] ?? 0);
      if (typeof value === 'string' && value.length < minLen) errors.push(`${path}: shorter than ${minLen}`);
    }
  }

  private checkEnum(value: Json, type: protobuf.Enum, path: string, errors: string[]): void {
    let valueName: string | undefined;
    if (typeof value === 'string') valueName = value in type.values ? value : undefined;
    else if (typeof value === 'number') valueName = type.valuesById[value];
    if (valueName === undefined) {
      errors.push(
        `${path}: ${JSON.stringify(value)} is not a value of ${typeName(type)} (${Object.keys(type.values).join(', ')})`,
      );
      return;
    }
    const options = type.valuesOptions?.[valueName] as Record<string, unknown> | undefined;
    if (options?.['deprecated'] === true)
      errors.push(`${path}: enum value ${valueName} of ${typeName(type)} is deprecated`);
  }

  private checkScalar(value: Json, scalar: string, path: string, errors: string[]): void {
    const bad = (): void => {
      errors.push(`${path}: ${JSON.stringify(value)} is not a valid ${scalar}`);
    };
    switch (scalar) {
      case 'string':
      case 'bytes':
        if (typeof value !== 'string') bad();
        return;
      case 'bool':
        if (typeof value !== 'boolean') bad();
        return;
      case 'double':
      case 'float':
        if (
          typeof value !== 'number' &&
          !(typeof value === 'string' && /^(-?\d+(\.\d+)?([eE][+-]?\d+)?|NaN|-?Infinity)$/.test(value))
        )
          bad();
        return;
      case 'int32':
      case 'sint32':
      case 'sfixed32':
      case 'int64':
      case 'sint64':
      case 'sfixed64':
        if (!(
          (typeof value === 'number' && Number.isInteger(value)) ||
          (typeof value === 'string' && /^-?\d+$/.test(value))
        ))
          bad();
        return;
      case 'uint32':
      case 'fixed32':
      case 'uint64':
      case 'fixed64':
        if (!(
          (typeof value === 'number' && Number.isInteger(value) && value >= 0) ||
          (typeof value === 'string' && /^\d+$/.test(value))
        ))
          bad();
        return;
      default:
        errors.push(`${path}: unsupported scalar type ${scalar}`);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Fixtures

const BOOTSTRAP = 'envoy.config.bootstrap.v3.Bootstrap';
const HCM_TYPE = `${TYPE_PREFIX}envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager`;
const EXT_AUTHZ_TYPE = `${TYPE_PREFIX}envoy.extensions.filters.http.ext_authz.v3.ExtAuthz`;
const EXT_AUTHZ_PER_ROUTE_TYPE = `${TYPE_PREFIX}envoy.extensions.filters.http.ext_authz.v3.ExtAuthzPerRoute`;
const ROUTER_TYPE = `${TYPE_PREFIX}envoy.extensions.filters.http.router.v3.Router`;
const CORS_TYPE = `${TYPE_PREFIX}envoy.extensions.filters.http.cors.v3.Cors`;
const CORS_POLICY_TYPE = `${TYPE_PREFIX}envoy.extensions.filters.http.cors.v3.CorsPolicy`;
const HTTP_PROTOCOL_OPTIONS = 'envoy.extensions.upstreams.http.v3.HttpProtocolOptions';

const protoRoot = loadEnvoyProtos();
const validator = new EnvoyConfigValidator(protoRoot);
const envoyConfig = readYaml('envoy/envoy.yaml');
const serviceConfig = obj(readYaml('envoy/config.yaml'), 'envoy/config.yaml');
const exampleConfig = obj(readYaml('examples/config.yaml'), 'examples/config.yaml');
const browserOrigin = new URL(str(obj(serviceConfig.kratos, 'kratos').browser_url, 'kratos.browser_url')).origin;

function clone(value: Json): Json {
  return structuredClone(value);
}

function listeners(config: Json): JsonObject[] {
  const staticResources = obj(obj(config, 'bootstrap').static_resources, 'static_resources');
  return arr(staticResources.listeners, 'listeners').map((l, i) => obj(l, `listeners[${i}]`));
}

function clusters(config: Json): JsonObject[] {
  const staticResources = obj(obj(config, 'bootstrap').static_resources, 'static_resources');
  return arr(staticResources.clusters, 'clusters').map((c, i) => obj(c, `clusters[${i}]`));
}

function cluster(config: Json, name: string): JsonObject {
  const found = clusters(config).find((c) => c.name === name);
  assert.ok(found, `cluster "${name}" is defined`);
  return found;
}

function clusterEndpoints(c: JsonObject): { host: string; port: number }[] {
  const assignment = obj(c.load_assignment, `cluster ${String(c.name)} load_assignment`);
  return arr(assignment.endpoints, 'endpoints').flatMap((group) =>
    arr(obj(group, 'endpoints[]').lb_endpoints, 'lb_endpoints').map((lb) => {
      const socket = obj(
        obj(obj(obj(lb, 'lb_endpoint').endpoint, 'endpoint').address, 'address').socket_address,
        'socket_address',
      );
      return { host: str(socket.address, 'socket_address.address'), port: Number(socket.port_value) };
    }),
  );
}

function hcm(config: Json): JsonObject {
  const chains = arr(listeners(config)[0]?.filter_chains, 'filter_chains');
  const filters = arr(obj(chains[0], 'filter_chains[0]').filters, 'filters');
  const found = filters
    .map((f) => obj(f, 'network filter'))
    .find((f) => f.name === 'envoy.filters.network.http_connection_manager');
  assert.ok(found, 'the first filter chain has an http_connection_manager');
  const typed = obj(found.typed_config, 'HCM typed_config');
  assert.equal(typed['@type'], HCM_TYPE);
  return typed;
}

function httpFilters(config: Json): JsonObject[] {
  return arr(hcm(config).http_filters, 'http_filters').map((f) => obj(f, 'http filter'));
}

function extAuthz(config: Json): JsonObject {
  const filter = httpFilters(config).find((f) => f.name === 'envoy.filters.http.ext_authz');
  assert.ok(filter, 'envoy.filters.http.ext_authz is configured');
  const typed = obj(filter.typed_config, 'ext_authz typed_config');
  assert.equal(typed['@type'], EXT_AUTHZ_TYPE);
  return typed;
}

function routes(config: Json): JsonObject[] {
  const routeConfig = obj(hcm(config).route_config, 'route_config');
  return arr(routeConfig.virtual_hosts, 'virtual_hosts').flatMap((vh) =>
    arr(obj(vh, 'virtual host').routes, 'routes').map((r) => obj(r, 'route')),
  );
}

function extAuthzPerRoute(route: JsonObject): JsonObject | undefined {
  const perFilter = route.typed_per_filter_config;
  if (!isObject(perFilter)) return undefined;
  const entry = perFilter['envoy.filters.http.ext_authz'];
  if (entry === undefined) return undefined;
  const typed = obj(entry, 'ExtAuthzPerRoute');
  assert.equal(typed['@type'], EXT_AUTHZ_PER_ROUTE_TYPE);
  return typed;
}

function serviceSection(name: string): JsonObject {
  return obj(serviceConfig[name], `envoy/config.yaml ${name}`);
}

// ---------------------------------------------------------------------------------------------
// Tests: proto validation

test('envoy/envoy.yaml is a valid Envoy v3 Bootstrap (fields, @types, enums, required values)', () => {
  assert.deepEqual(validator.validate(envoyConfig, BOOTSTRAP), []);
});

test('every @type in envoy/envoy.yaml resolves to a loaded Envoy message', () => {
  const urls = new Set<string>();
  const walk = (value: Json): void => {
    if (Array.isArray(value)) value.forEach(walk);
    else if (isObject(value)) {
      const url = value['@type'];
      if (typeof url === 'string') urls.add(url);
      Object.values(value).forEach(walk);
    }
  };
  walk(envoyConfig);
  assert.ok(urls.size >= 6, `expected several typed configs, found ${[...urls].join(', ')}`);
  for (const url of urls) {
    assert.ok(url.startsWith(TYPE_PREFIX), url);
    assert.doesNotThrow(() => protoRoot.lookupType(url.slice(TYPE_PREFIX.length)), url);
  }
});

/** Each mutation breaks one thing; the validator must report it at the given path. */
const brokenCopies: { name: string; mutate: (config: Json) => void; expect: RegExp }[] = [
  {
    name: 'misspelled field',
    mutate: (c) => {
      const typed = extAuthz(c);
      typed.failure_mode_alow = typed.failure_mode_allow ?? false;
      delete typed.failure_mode_allow;
    },
    expect: /unknown field "failure_mode_alow" in envoy\.extensions\.filters\.http\.ext_authz\.v3\.ExtAuthz/,
  },
  {
    name: 'misspelled field at the top level',
    mutate: (c) => {
      const root = obj(c, 'bootstrap');
      root.static_resource = root.static_resources ?? null;
      delete root.static_resources;
    },
    expect: /^\/static_resource: unknown field/,
  },
  {
    name: 'unresolvable @type',
    mutate: (c) => {
      const router = httpFilters(c).find((f) => f.name === 'envoy.filters.http.router');
      obj(router?.typed_config, 'router typed_config')['@type'] =
        `${TYPE_PREFIX}envoy.extensions.filters.http.router.v3.Routr`;
    },
    expect: /@type: "type\.googleapis\.com\/envoy\.extensions\.filters\.http\.router\.v3\.Routr" does not resolve/,
  },
  {
    name: 'field that belongs to another @type',
    mutate: (c) => {
      const router = httpFilters(c).find((f) => f.name === 'envoy.filters.http.router');
      obj(router?.typed_config, 'router typed_config').failure_mode_allow = false;
    },
    expect: /unknown field "failure_mode_allow" in envoy\.extensions\.filters\.http\.router\.v3\.Router/,
  },
  {
    name: 'invalid enum value',
    mutate: (c) => {
      extAuthz(c).transport_api_version = 'V4';
    },
    expect: /transport_api_version: "V4" is not a value of envoy\.config\.core\.v3\.ApiVersion/,
  },
  {
    name: 'invalid enum value in a nested message',
    mutate: (c) => {
      obj(extAuthz(c).status_on_error, 'status_on_error').code = 'ServiceUnavailible';
    },
    expect: /status_on_error\/code: "ServiceUnavailible" is not a value of envoy\.type\.v3\.StatusCode/,
  },
  {
    name: 'wrong scalar type',
    mutate: (c) => {
      const socket = obj(obj(listeners(c)[0]?.address, 'listener address').socket_address, 'socket_address');
      socket.port_value = 'eighty';
    },
    expect: /port_value: "eighty" is not a valid uint32/,
  },
  {
    name: 'Go-style duration instead of proto3 JSON',
    mutate: (c) => {
      obj(extAuthz(c).grpc_service, 'grpc_service').timeout = '250ms';
    },
    expect: /grpc_service\/timeout: invalid Duration "250ms"/,
  },
  {
    name: 'repeated field given as a mapping',
    mutate: (c) => {
      hcm(c).http_filters = { name: 'envoy.filters.http.router' };
    },
    expect: /http_filters: expected a list/,
  },
  {
    name: 'two members of a oneof',
    mutate: (c) => {
      const route = routes(c).find((r) => extAuthzPerRoute(r)?.disabled === true);
      const perRoute = extAuthzPerRoute(route ?? {});
      assert.ok(perRoute);
      perRoute.check_settings = { context_extensions: { policy: 'admin' } };
    },
    expect:
      /oneof "override" of envoy\.extensions\.filters\.http\.ext_authz\.v3\.ExtAuthzPerRoute has several members set/,
  },
  {
    name: 'missing required value (protoc-gen-validate min_len)',
    mutate: (c) => {
      delete obj(obj(extAuthz(c).grpc_service, 'grpc_service').envoy_grpc, 'envoy_grpc').cluster_name;
    },
    expect: /envoy_grpc\/cluster_name: required by envoy\.config\.core\.v3\.GrpcService\.EnvoyGrpc/,
  },
  {
    name: 'map value that is not a typed config',
    mutate: (c) => {
      const options = obj(cluster(c, 'ext_authz').typed_extension_protocol_options, 'typed_extension_protocol_options');
      options[HTTP_PROTOCOL_OPTIONS] = { explicit_http_config: { http2_protocol_options: {} } };
    },
    expect: /google\.protobuf\.Any without "@type"/,
  },
  {
    name: 'deprecated field (cluster-level http2_protocol_options)',
    mutate: (c) => {
      cluster(c, 'ext_authz').http2_protocol_options = {};
    },
    expect: /http2_protocol_options" of envoy\.config\.cluster\.v3\.Cluster is deprecated/,
  },
];

for (const broken of brokenCopies) {
  test(`a copy of envoy/envoy.yaml with a ${broken.name} fails validation`, () => {
    const copy = clone(envoyConfig);
    broken.mutate(copy);
    const errors = validator.validate(copy, BOOTSTRAP);
    assert.ok(
      errors.some((e) => broken.expect.test(e)),
      `expected an error matching ${String(broken.expect)}, got:\n${errors.join('\n') || '(no errors)'}`,
    );
  });
}

test('camelCase JSON names are accepted like snake_case (as Envoy does)', () => {
  const copy = clone(envoyConfig);
  const typed = extAuthz(copy);
  typed.failureModeAllow = typed.failure_mode_allow ?? false;
  delete typed.failure_mode_allow;
  assert.deepEqual(validator.validate(copy, BOOTSTRAP), []);
  typed.failure_mode_allow = false;
  assert.ok(validator.validate(copy, BOOTSTRAP).some((e) => /field set twice/.test(e)));
});

// ---------------------------------------------------------------------------------------------
// Tests: facts about the deployment

test('listener on 8080 with the HTTP connection manager; router is the last HTTP filter', () => {
  const socket = obj(obj(listeners(envoyConfig)[0]?.address, 'listener address').socket_address, 'socket_address');
  assert.equal(socket.port_value, 8080);
  const filters = httpFilters(envoyConfig);
  const last = filters[filters.length - 1];
  assert.equal(last?.name, 'envoy.filters.http.router');
  assert.equal(obj(last?.typed_config, 'router typed_config')['@type'], ROUTER_TYPE);
  assert.equal(filters.filter((f) => f.name === 'envoy.filters.http.router').length, 1);
});

test('client-supplied x-kratos-* headers are removed before ext_authz runs', () => {
  const filters = httpFilters(envoyConfig);
  const authzIndex = filters.findIndex((f) => f.name === 'envoy.filters.http.ext_authz');
  const stripIndex = filters.findIndex((f) => f.name === 'envoy.filters.http.header_mutation');
  assert.ok(stripIndex >= 0 && stripIndex < authzIndex, 'header_mutation runs before ext_authz');
  const mutations = arr(
    obj(obj(filters[stripIndex]?.typed_config, 'header_mutation').mutations, 'mutations').request_mutations,
    'request_mutations',
  );
  const removed = mutations.map((m) => obj(m, 'mutation').remove);
  for (const header of ['x-kratos-identity-id', 'x-kratos-session-id', 'x-kratos-aal']) {
    assert.ok(removed.includes(header), `${header} is removed`);
  }
});

test('CORS preflights are answered by Envoy before ext_authz; the service authorizes every other OPTIONS', () => {
  const filters = httpFilters(envoyConfig);
  const corsIndex = filters.findIndex((f) => f.name === 'envoy.filters.http.cors');
  const authzIndex = filters.findIndex((f) => f.name === 'envoy.filters.http.ext_authz');
  assert.ok(corsIndex >= 0 && corsIndex < authzIndex, 'the CORS filter runs before ext_authz');
  assert.equal(obj(filters[corsIndex]?.typed_config, 'cors typed_config')['@type'], CORS_TYPE);
  // The policy lives on the virtual host, so every route (including /admin) has it.
  const routeConfig = obj(hcm(envoyConfig).route_config, 'route_config');
  for (const vh of arr(routeConfig.virtual_hosts, 'virtual_hosts')) {
    const policy = obj(
      obj(obj(vh, 'virtual host').typed_per_filter_config, 'typed_per_filter_config')['envoy.filters.http.cors'],
      'CorsPolicy',
    );
    assert.equal(policy['@type'], CORS_POLICY_TYPE);
    const origins = arr(policy.allow_origin_string_match, 'allow_origin_string_match').map((m) =>
      obj(m, 'origin matcher'),
    );
    assert.ok(origins.length > 0);
    // Exact origins only: a wildcard with allow_credentials would let any site read answers.
    for (const origin of origins)
      assert.match(str(origin.exact, 'allow_origin_string_match[].exact'), /^https?:\/\/[^/*]+$/);
    assert.ok(
      origins.some((o) => o.exact === browserOrigin),
      `the browser origin ${browserOrigin} is allowed`,
    );
  }
  assert.equal(
    obj(serviceSection('policy'), 'policy').cors_preflight,
    false,
    'envoy/config.yaml policy.cors_preflight is false',
  );
});

test('ext_authz: gRPC to cluster ext_authz, V3, fail closed with 503, raw headers', () => {
  const typed = extAuthz(envoyConfig);
  const grpc = obj(typed.grpc_service, 'grpc_service');
  assert.equal(obj(grpc.envoy_grpc, 'envoy_grpc').cluster_name, 'ext_authz');
  assert.equal(typed.transport_api_version, 'V3');
  assert.equal(typed.failure_mode_allow, false, 'failure_mode_allow is explicitly false');
  assert.equal(obj(typed.status_on_error, 'status_on_error').code, 'ServiceUnavailable');
  assert.equal(typed.encode_raw_headers, true);
  assert.equal(typed.http_service, undefined);
});

test('ext_authz timeout exceeds the service Kratos budget (whoami + identity lookup)', () => {
  const envoyTimeout = protoDurationMs(
    str(obj(extAuthz(envoyConfig).grpc_service, 'grpc_service').timeout, 'grpc_service.timeout'),
  );
  for (const [file, config] of [
    ['envoy/config.yaml', serviceConfig],
    ['examples/config.yaml', exampleConfig],
  ] as const) {
    const kratos = obj(config.kratos, `${file} kratos`);
    // The service's own duration parser, so "150ms" means here exactly what it means to the service.
    const timeoutText = typeof kratos.timeout === 'string' ? kratos.timeout : '150ms';
    const kratosTimeout = parseDuration(timeoutText);
    assert.ok(kratosTimeout !== undefined, `unparseable duration "${timeoutText}"`);
    assert.ok(envoyTimeout > kratosTimeout, `${envoyTimeout}ms > kratos.timeout ${kratosTimeout}ms (${file})`);
    // A cookie check can take two sequential Kratos calls (whoami, then the identity lookup
    // for the highest available AAL), each bounded by kratos.timeout.
    assert.ok(envoyTimeout > 2 * kratosTimeout, `${envoyTimeout}ms > 2 x ${kratosTimeout}ms (${file})`);
  }
});

test('cluster ext_authz: HTTP/2 via typed_extension_protocol_options, port = server.grpc_address', () => {
  const c = cluster(envoyConfig, 'ext_authz');
  const options = obj(c.typed_extension_protocol_options, 'typed_extension_protocol_options');
  const http = obj(options[HTTP_PROTOCOL_OPTIONS], HTTP_PROTOCOL_OPTIONS);
  assert.equal(http['@type'], `${TYPE_PREFIX}${HTTP_PROTOCOL_OPTIONS}`, 'map key and @type agree');
  assert.ok(
    isObject(obj(http.explicit_http_config, 'explicit_http_config').http2_protocol_options),
    'HTTP/2 is explicit',
  );

  const grpcPorts = [serviceSection('server'), obj(exampleConfig.server, 'examples server')].map((s) =>
    portOf(str(s.grpc_address, 'server.grpc_address')),
  );
  assert.deepEqual(grpcPorts, [9191, 9191]);
  const endpoints = clusterEndpoints(c);
  assert.ok(endpoints.length > 0);
  for (const endpoint of endpoints) assert.equal(endpoint.port, grpcPorts[0]);
  assert.deepEqual(
    obj(arr(c.health_checks, 'health_checks')[0], 'health check').grpc_health_check,
    { service_name: 'envoy.service.auth.v3.Authorization' },
    'Envoy health-checks the Authorization service the service registers',
  );
});

test('every cluster is referenced consistently and every route targets a defined cluster', () => {
  const names = clusters(envoyConfig).map((c) => str(c.name, 'cluster name'));
  for (const c of clusters(envoyConfig)) {
    assert.equal(obj(c.load_assignment, 'load_assignment').cluster_name, c.name);
  }
  for (const route of routes(envoyConfig)) {
    const target = obj(route.route, 'route action').cluster;
    assert.ok(names.includes(str(target, 'route cluster')), `route cluster ${String(target)} exists`);
  }
});

test('Kratos public routes go to Kratos (public_url host/port) with ext_authz disabled', () => {
  const publicUrl = new URL(str(serviceSection('kratos').public_url, 'kratos.public_url'));
  const kratos = cluster(envoyConfig, 'kratos_public');
  for (const endpoint of clusterEndpoints(kratos)) {
    assert.equal(endpoint.host, publicUrl.hostname);
    assert.equal(endpoint.port, Number(publicUrl.port));
  }
  const kratosRoutes = routes(envoyConfig).filter((r) => obj(r.route, 'route action').cluster === 'kratos_public');
  const prefixes = kratosRoutes.map((r) => obj(r.match, 'match').path_separated_prefix);
  for (const required of ['/self-service', '/sessions'])
    assert.ok(prefixes.includes(required), `route for ${required}`);
  for (const route of kratosRoutes) {
    assert.equal(extAuthzPerRoute(route)?.disabled, true, `ext_authz disabled for ${JSON.stringify(route.match)}`);
  }
  // Only Kratos's own routes skip the check.
  for (const route of routes(envoyConfig)) {
    if (extAuthzPerRoute(route)?.disabled === true)
      assert.equal(obj(route.route, 'route action').cluster, 'kratos_public');
  }
});

test('context_extensions select a policy rule that exists in envoy/config.yaml', () => {
  const ruleNames = arr(serviceSection('policy').rules, 'policy.rules').map((r) => obj(r, 'rule').name);
  const selected = routes(envoyConfig)
    .map((r) => extAuthzPerRoute(r)?.check_settings)
    .filter((s): s is JsonObject => isObject(s))
    .map((s) => obj(s.context_extensions, 'context_extensions').policy);
  assert.ok(selected.length > 0, 'at least one route selects a named policy');
  for (const name of selected) assert.ok(ruleNames.includes(name ?? null), `policy "${String(name)}" is a rule name`);
});

test('the access log prints the ext_authz dynamic metadata', () => {
  const logs = arr(hcm(envoyConfig).access_log, 'access_log');
  const formats = JSON.stringify(logs);
  assert.match(formats, /%DYNAMIC_METADATA\(envoy\.filters\.http\.ext_authz\)%/);
  assert.match(formats, /%DYNAMIC_METADATA\(envoy\.filters\.http\.ext_authz:decision\)%/);
});
