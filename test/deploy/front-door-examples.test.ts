// The deployment examples for the HTTP front doors (examples/kubernetes/): each against its
// published schema where one is on npm (kubernetes-models' Ingress, @kubernetes-models/traefik's
// Middleware; unknown keys included), Istio's HTTP provider against its field list, and all of
// them against deploy/kubernetes's Service and the service's own paths and header names.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Ingress } from 'kubernetes-models/networking.k8s.io/v1/Ingress';
import { IDENTITY_HEADERS } from '../../src/request/identity-headers';
import { parseConfig } from '../../src/config/load';
import { ENVOY_PATH_PREFIX } from '../../src/http/envoy-http';
import { METHOD_OVERRIDE_HEADERS } from '../../src/request/method';
import { schemaProblems, type ModelClass } from '../support/manifest-schema';
import { parseAllDocuments } from 'yaml';
import { allSpellings } from '../support/spellings';
import { arr, at, isObject, obj, readText, readYaml, str, type Json, type JsonObject } from '../support/project-files';

// What each example copies upstream: the identity headers, then the trait header and the JWT
// header of examples/config.yaml's commented identity_headers / upstream_jwt example.
const UPSTREAM_HEADERS = [...IDENTITY_HEADERS, 'x-user-email', 'x-kratos-jwt'];
// Then the credential headers (policy.strip_credentials): proxies that delete a copied header
// the 200 lacks copy all three, as the authorizer's 200 states each one the app keeps; Envoy
// leaves unnamed headers alone, so only the Cookie's rest is copied (the rest is removed by name).
const STATED_CREDENTIALS = ['cookie', 'x-session-token', 'authorization'];
const ENVOY_CREDENTIALS = ['cookie'];

const service = obj(readYaml('deploy/kubernetes/service.yaml'), 'Service');
const namespace = str(at(readYaml('deploy/kubernetes/kustomization.yaml'), 'namespace'), 'kustomization namespace');
const authzPort = Number(
  arr(at(service, 'spec.ports'), 'Service ports')
    .map((port) => obj(port, 'port'))
    .find((port) => port.name === 'http-authz')?.port,
);
const serviceHost = `${str(at(service, 'metadata.name'), 'Service name')}.${namespace}.svc.cluster.local`;
const doorUrl = (path: string) => `http://${serviceHost}:${authzPort}${path}`;

const ingress = obj(readYaml('examples/kubernetes/ingress-nginx.yaml'), 'Ingress');
const middleware = obj(readYaml('examples/kubernetes/traefik-middleware.yaml'), 'Middleware');
const istio = obj(readYaml('examples/kubernetes/istio-http-provider.yaml'), 'IstioOperator');

test('the Service exposes the HTTP front doors on 9193', () => {
  assert.equal(authzPort, 9193);
});

test('ingress-nginx Ingress: valid, auth-url is the /auth-request door, the identity headers go upstream', () => {
  assert.deepEqual(schemaProblems(Ingress, ingress), []);
  const annotations = obj(at(ingress, 'metadata.annotations'), 'annotations');
  assert.equal(annotations['nginx.ingress.kubernetes.io/auth-url'], doorUrl('/auth-request'));
  assert.deepEqual(
    str(annotations['nginx.ingress.kubernetes.io/auth-response-headers'], 'auth-response-headers')
      .toLowerCase()
      .split(','),
    [...UPSTREAM_HEADERS, ...STATED_CREDENTIALS],
  );
});

// Issue 18, finding 2: ingress-nginx routes on the request line's host but writes X-Original-URL
// from Host; the host it routed on reaches the authorizer only through this ConfigMap.
test('ingress-nginx: auth-proxy-set-headers names a ConfigMap that sends X-Original-Host: $host', async () => {
  const { ConfigMap } = await import('kubernetes-models/v1/ConfigMap');
  const headers = obj(readYaml('examples/kubernetes/ingress-nginx-auth-headers.yaml'), 'ConfigMap');
  assert.deepEqual(schemaProblems(ConfigMap, headers), []);
  const annotations = obj(at(ingress, 'metadata.annotations'), 'annotations');
  const named = `${str(at(headers, 'metadata.namespace'), 'namespace')}/${str(at(headers, 'metadata.name'), 'name')}`;
  assert.equal(annotations['nginx.ingress.kubernetes.io/auth-proxy-set-headers'], named);
  assert.deepEqual(at(headers, 'data'), { 'X-Original-Host': '$host' });
});

// The package is ECMAScript-only: loaded with import(), which CommonJS keeps as it is.
const traefikMiddleware = async (): Promise<ModelClass> =>
  (await import('@kubernetes-models/traefik/traefik.io/v1alpha1/Middleware')).Middleware;

/** authResponseHeadersRegex as JavaScript reads it: Go's leading (?i) becomes the i flag. */
function upstreamHeaderPattern(forwardAuth: JsonObject): RegExp {
  const source = str(forwardAuth.authResponseHeadersRegex, 'authResponseHeadersRegex');
  assert.ok(source.startsWith('(?i)'), 'matches any case');
  return new RegExp(source.slice('(?i)'.length), 'i');
}

test('Traefik Middleware: valid, forwardAuth to the /forward-auth door with every spelling of the identity headers, its own X-Forwarded-*, the renewed session cookie to the client', async () => {
  assert.deepEqual(schemaProblems(await traefikMiddleware(), middleware), []);
  const forwardAuth = obj(at(middleware, 'spec.forwardAuth'), 'forwardAuth');
  assert.equal(forwardAuth.address, doorUrl('/forward-auth'));
  assert.equal(forwardAuth.trustForwardHeader, false);
  assert.deepEqual(
    arr(forwardAuth.authResponseHeaders, 'authResponseHeaders').map((name) => str(name, 'header').toLowerCase()),
    STATED_CREDENTIALS,
  );
  const pattern = upstreamHeaderPattern(forwardAuth);
  for (const name of UPSTREAM_HEADERS.flatMap(allSpellings))
    assert.ok(pattern.test(name) && pattern.test(name.toUpperCase()), `${name} is replaced by the answer's`);
  for (const name of ['x-kratos-identity-idx', 'xx-kratos-aal', 'x-user-emails', 'x-kratos-other', 'cookie'])
    assert.ok(!pattern.test(name), `${name} is left alone`);
  assert.deepEqual(forwardAuth.addAuthCookiesToResponse, [parseConfig({}, {}).kratos.session_cookie]);
});

test('examples/traefik/dynamic.yaml runs the same forwardAuth middleware as the Kubernetes one, at a local address', () => {
  const local = obj(
    at(readYaml('examples/traefik/dynamic.yaml'), 'http.middlewares.kratos-ext-authz.forwardAuth'),
    'forwardAuth',
  );
  const kubernetes = obj(at(middleware, 'spec.forwardAuth'), 'forwardAuth');
  assert.deepEqual({ ...local, address: kubernetes.address }, kubernetes);
});

test('the schema checks catch a misspelt field (so the two above can fail)', async () => {
  const misspelt = JSON.parse(JSON.stringify(middleware)) as JsonObject;
  const forwardAuth = obj(at(misspelt, 'spec.forwardAuth'), 'forwardAuth');
  forwardAuth.authResponseHeader = forwardAuth.authResponseHeaders ?? null;
  delete forwardAuth.authResponseHeaders;
  assert.notDeepEqual(schemaProblems(await traefikMiddleware(), misspelt), []);
});

// Istio's EnvoyExternalAuthorizationHttpProvider (mesh/v1alpha1/config.proto), JSON names.
const HTTP_PROVIDER_FIELDS: Record<string, (value: Json) => boolean> = {
  service: (v) => typeof v === 'string' && v.length > 0,
  port: (v) => typeof v === 'number' && Number.isInteger(v) && v > 0 && v < 65536,
  timeout: (v) => typeof v === 'string' && /^\d+(\.\d{1,9})?s$/.test(v),
  pathPrefix: (v) => typeof v === 'string' && v.startsWith('/'),
  failOpen: (v) => typeof v === 'boolean',
  statusOnError: (v) => typeof v === 'string' && /^[1-5]\d\d$/.test(v),
  includeRequestHeadersInCheck: stringList,
  includeAdditionalHeadersInCheck: (v) => isObject(v),
  includeRequestBodyInCheck: (v) => isObject(v),
  headersToUpstreamOnAllow: stringList,
  headersToDownstreamOnDeny: stringList,
  headersToDownstreamOnAllow: stringList,
};

function stringList(value: Json): boolean {
  return Array.isArray(value) && value.every((item) => typeof item === 'string' && item.length > 0);
}

test('Istio envoyExtAuthzHttp provider: known fields only, the /ext-authz door, fails closed, identity headers upstream, the renewed cookie downstream', () => {
  const providers = arr(at(istio, 'spec.meshConfig.extensionProviders'), 'extensionProviders');
  assert.equal(providers.length, 1);
  const entry = obj(providers[0], 'extensionProviders[0]');
  assert.deepEqual(Object.keys(entry).sort(), ['envoyExtAuthzHttp', 'name']);
  const provider = obj(entry.envoyExtAuthzHttp, 'envoyExtAuthzHttp');
  for (const [key, value] of Object.entries(provider)) {
    const check = HTTP_PROVIDER_FIELDS[key];
    assert.ok(check, `envoyExtAuthzHttp.${key} is not a field of Istio's HTTP provider`);
    assert.ok(check(value), `envoyExtAuthzHttp.${key}: ${JSON.stringify(value)}`);
  }
  assert.equal(provider.service, serviceHost);
  assert.equal(provider.port, authzPort);
  assert.equal(provider.pathPrefix, ENVOY_PATH_PREFIX);
  assert.equal(provider.failOpen, false);
  assert.deepEqual(provider.headersToUpstreamOnAllow, [...UPSTREAM_HEADERS, ...ENVOY_CREDENTIALS]);
  // The renewed session cookie reaches the browser (Envoy's allowed_client_headers_on_success).
  assert.deepEqual(provider.headersToDownstreamOnAllow, ['set-cookie']);
  const sent = arr(provider.includeRequestHeadersInCheck, 'includeRequestHeadersInCheck');
  for (const needed of [
    'cookie',
    'x-session-token',
    'accept',
    'sec-fetch-mode',
    'x-forwarded-proto',
    ...METHOD_OVERRIDE_HEADERS,
  ])
    assert.ok(sent.includes(needed), `sends ${needed}`);
});

// Envoy Gateway's SecurityPolicy extAuth (api/v1alpha1, v1.2+), JSON names; no schema of it is on
// npm, so the example is held to the field list and to deploy/kubernetes's Service.
const EXT_AUTH_FIELDS = new Set([
  'failOpen',
  'headersToExtAuth',
  'grpc',
  'http',
  'timeout',
  'recomputeRoute',
  'bodyToExtAuth',
  'contextExtensions',
]);
const HTTP_EXT_AUTH_FIELDS = new Set(['backendRefs', 'path', 'headersToBackend']);
const GRPC_EXT_AUTH_FIELDS = new Set(['backendRefs']);
const DECISION_HEADERS = [
  'cookie',
  'x-session-token',
  'authorization',
  'accept',
  'sec-fetch-mode',
  'x-forwarded-proto',
];

const gatewayDocuments = parseAllDocuments(readText('examples/kubernetes/envoy-gateway-security-policy.yaml')).map(
  (document) => obj(document.toJS() as Json, 'document'),
);
const servicePort = (name: string) =>
  Number(
    arr(at(service, 'spec.ports'), 'Service ports')
      .map((port) => obj(port, 'port'))
      .find((port) => port.name === name)?.port,
  );

function securityPolicy(name: string): JsonObject {
  const found = gatewayDocuments.find(
    (document) => document.kind === 'SecurityPolicy' && at(document, 'metadata.name') === name,
  );
  assert.ok(found, `SecurityPolicy ${name}`);
  assert.equal(found.apiVersion, 'gateway.envoyproxy.io/v1alpha1');
  return found;
}

function assertBackend(authorizer: JsonObject, fields: ReadonlySet<string>, port: number): void {
  for (const key of Object.keys(authorizer)) assert.ok(fields.has(key), `${key} is not a field there`);
  const refs = arr(authorizer.backendRefs, 'backendRefs').map((ref) => obj(ref, 'backendRef'));
  assert.deepEqual(refs, [{ name: str(at(service, 'metadata.name'), 'Service name'), namespace, port }]);
}

function assertExtAuth(policy: JsonObject): JsonObject {
  const extAuth = obj(at(policy, 'spec.extAuth'), 'extAuth');
  for (const key of Object.keys(extAuth))
    assert.ok(EXT_AUTH_FIELDS.has(key), `extAuth.${key} is not a field of Envoy Gateway's ExtAuth`);
  assert.equal(extAuth.failOpen, false);
  const sent = arr(extAuth.headersToExtAuth, 'headersToExtAuth');
  for (const needed of [...DECISION_HEADERS, ...METHOD_OVERRIDE_HEADERS])
    assert.ok(sent.includes(needed), `sends ${needed}`);
  assert.deepEqual(
    arr(at(policy, 'spec.targetRefs'), 'targetRefs').map((ref) => obj(ref, 'targetRef').kind),
    ['HTTPRoute'],
  );
  return extAuth;
}

test("Envoy Gateway SecurityPolicy over gRPC: known fields, the Service's gRPC port, fails closed, sends what a decision reads", () => {
  const extAuth = assertExtAuth(securityPolicy('kratos-ext-authz-grpc'));
  assert.equal(extAuth.http, undefined);
  assertBackend(obj(extAuth.grpc, 'grpc'), GRPC_EXT_AUTH_FIELDS, servicePort('grpc'));
});

test("Envoy Gateway SecurityPolicy over HTTP: the /ext-authz door on the Service's authz port, identity headers to the backend", () => {
  const extAuth = assertExtAuth(securityPolicy('kratos-ext-authz-http'));
  assert.equal(extAuth.grpc, undefined);
  const http = obj(extAuth.http, 'http');
  assertBackend(http, HTTP_EXT_AUTH_FIELDS, authzPort);
  assert.equal(http.path, ENVOY_PATH_PREFIX);
  assert.deepEqual(http.headersToBackend, [...UPSTREAM_HEADERS, ...ENVOY_CREDENTIALS]);
});

test('Envoy Gateway: a ReferenceGrant lets the policies in the app namespace reach the Service', () => {
  const grant = gatewayDocuments.find((document) => document.kind === 'ReferenceGrant');
  assert.ok(grant);
  assert.equal(at(grant, 'metadata.namespace'), namespace);
  const policyNamespaces = new Set(
    gatewayDocuments
      .filter((document) => document.kind === 'SecurityPolicy')
      .map((document) => at(document, 'metadata.namespace')),
  );
  assert.deepEqual(
    arr(at(grant, 'spec.from'), 'from'),
    [...policyNamespaces].map((ns) => ({
      group: 'gateway.envoyproxy.io',
      kind: 'SecurityPolicy',
      namespace: ns ?? null,
    })),
  );
  assert.deepEqual(arr(at(grant, 'spec.to'), 'to'), [
    { group: '', kind: 'Service', name: str(at(service, 'metadata.name'), 'Service name') },
  ]);
});
