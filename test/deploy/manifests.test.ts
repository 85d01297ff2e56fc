// Validates every manifest under deploy/ against the Kubernetes and Istio schemas (npm packages
// kubernetes-models and @kubernetes-models/istio) and checks that ports, names and timeouts agree
// with each other and with the service configuration in the ConfigMap.
//
// The packages' validators ignore unknown keys; test/support/manifest-schema.ts also catches
// those (a misspelt `readinesProbe` fails).
//
// Two documents are not Kubernetes API objects and are checked by hand: kustomization.yaml
// (resources, namespace, images) and the Istio meshConfig.extensionProviders entry. The latter is
// wrapped in an IstioOperator; the package's IstioOperator schema has no `spec`, so its
// envoyExtAuthzGrpc fields are checked against Istio's EnvoyExternalAuthorizationGrpcProvider
// field list (istio/api mesh/v1alpha1/config.proto) below.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Namespace } from 'kubernetes-models/v1/Namespace';
import { Service } from 'kubernetes-models/v1/Service';
import { ServiceAccount } from 'kubernetes-models/v1/ServiceAccount';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy';
import { AuthorizationPolicy } from '@kubernetes-models/istio/security.istio.io/v1/AuthorizationPolicy';
import { IstioOperator } from '@kubernetes-models/istio/install.istio.io/v1alpha1/IstioOperator';
import { parseConfig } from '../../src/config/load';
import type { Config } from '../../src/config/schema';
import { schemaProblems, type ModelClass } from '../support/manifest-schema';
import {
  arr,
  at,
  isObject,
  type Json,
  type JsonObject,
  obj,
  portOf,
  projectRoot,
  protoDurationMs,
  readText,
  str,
} from '../support/project-files';

const deployDir = join(projectRoot, 'deploy');

// ---------------------------------------------------------------------------------------------
// Schema validation

const MODELS: Record<string, ModelClass> = {
  'v1/Namespace': Namespace,
  'v1/ServiceAccount': ServiceAccount,
  'v1/ConfigMap': ConfigMap,
  'v1/Service': Service,
  'apps/v1/Deployment': Deployment,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'networking.k8s.io/v1/NetworkPolicy': NetworkPolicy,
  'security.istio.io/v1/AuthorizationPolicy': AuthorizationPolicy,
  'install.istio.io/v1alpha1/IstioOperator': IstioOperator,
};

/** Kinds whose package schema is empty beyond metadata; their content is checked by hand. */
const OPEN_SCHEMA_KINDS = new Set(['install.istio.io/v1alpha1/IstioOperator']);
const KUSTOMIZATION = 'kustomize.config.k8s.io/v1beta1/Kustomization';

function kindKey(doc: JsonObject): string {
  return `${String(doc.apiVersion)}/${String(doc.kind)}`;
}

/** Problems with one manifest, or [] when it is valid for its apiVersion/kind. */
function validateManifest(doc: Json): string[] {
  if (!isObject(doc)) return ['not a mapping'];
  const key = kindKey(doc);
  if (key === KUSTOMIZATION) return []; // checked by its own test
  const Model = MODELS[key];
  if (!Model)
    return [`unknown kind ${key}: add it to MODELS (with its kubernetes-models class) or fix apiVersion/kind`];
  return schemaProblems(Model, doc, { open: OPEN_SCHEMA_KINDS.has(key) });
}

// ---------------------------------------------------------------------------------------------
// Loading deploy/

interface Manifest {
  file: string;
  doc: JsonObject;
}

function yamlFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return yamlFiles(path);
    return /\.ya?ml$/.test(entry.name) ? [path] : [];
  });
}

function loadManifests(): Manifest[] {
  return yamlFiles(deployDir).flatMap((path) => {
    const file = relative(projectRoot, path);
    return parseAllDocuments(readText(file)).flatMap((document, index) => {
      assert.deepEqual(document.errors, [], `${file} document ${index} parses`);
      const doc = document.toJS() as Json;
      if (doc === null) return []; // empty document after a trailing ---
      return [{ file, doc: obj(doc, `${file} document ${index}`) }];
    });
  });
}

const manifests = loadManifests();

function find(kind: string, name?: string): Manifest {
  const found = manifests.filter(
    (m) => m.doc.kind === kind && (name === undefined || at(m.doc, 'metadata.name') === name),
  );
  assert.equal(found.length, 1, `exactly one ${kind}${name ? ` named ${name}` : ''} under deploy/`);
  return found[0] as Manifest;
}

const deployment = find('Deployment', 'kratos-ext-authz').doc;
const podSpec = obj(at(deployment, 'spec.template.spec'), 'pod spec');
const container = obj(arr(podSpec.containers, 'containers')[0], 'container');
const configMap = find('ConfigMap', 'kratos-ext-authz-config').doc;
const k8sService = find('Service', 'kratos-ext-authz').doc;
const kustomization = find('Kustomization').doc;
const meshConfig = find('IstioOperator').doc;
const authorizationPolicy = find('AuthorizationPolicy').doc;
const networkPolicy = find('NetworkPolicy', 'kratos-ext-authz').doc;

const configText = str(obj(configMap.data, 'ConfigMap data')['config.yaml'], 'ConfigMap data config.yaml');
const serviceConfig: Config = parseConfig(parseAllDocuments(configText)[0]?.toJS() as unknown, {});

function containerPort(name: string): number {
  const port = arr(container.ports, 'container ports')
    .map((p) => obj(p, 'port'))
    .find((p) => p.name === name);
  assert.ok(port, `container port ${name}`);
  return Number(port.containerPort);
}

function extensionProvider(): JsonObject {
  const providers = arr(at(meshConfig, 'spec.meshConfig.extensionProviders'), 'extensionProviders');
  assert.equal(providers.length, 1);
  return obj(providers[0], 'extensionProviders[0]');
}

// Istio's EnvoyExternalAuthorizationGrpcProvider (mesh/v1alpha1/config.proto), JSON names.
const GRPC_PROVIDER_FIELDS: Record<string, (value: Json) => boolean> = {
  service: (v) => typeof v === 'string' && v.length > 0,
  port: (v) =>
    (typeof v === 'number' && Number.isInteger(v) && v > 0 && v < 65536) ||
    (typeof v === 'string' && /^\d{1,5}$/.test(v)),
  timeout: (v) => typeof v === 'string' && /^\d+(\.\d{1,9})?s$/.test(v),
  failOpen: (v) => typeof v === 'boolean',
  clearRouteCache: (v) => typeof v === 'boolean',
  statusOnError: (v) => typeof v === 'string' && /^[1-5]\d\d$/.test(v),
  includeRequestBodyInCheck: (v) => isObject(v),
};

/** Structural check of one meshConfig.extensionProviders entry for a gRPC ext_authz provider. */
function checkGrpcProvider(entry: JsonObject): string[] {
  const problems: string[] = [];
  for (const key of Object.keys(entry)) {
    if (key !== 'name' && key !== 'envoyExtAuthzGrpc') problems.push(`extensionProviders[]: unexpected key "${key}"`);
  }
  if (typeof entry.name !== 'string' || entry.name === '')
    problems.push('extensionProviders[].name must be a non-empty string');
  const grpc = entry.envoyExtAuthzGrpc;
  if (!isObject(grpc)) return [...problems, 'extensionProviders[].envoyExtAuthzGrpc must be a mapping'];
  for (const [key, value] of Object.entries(grpc)) {
    const check = GRPC_PROVIDER_FIELDS[key];
    if (!check)
      problems.push(`envoyExtAuthzGrpc: unknown field "${key}" (HTTP-provider fields are not valid for gRPC)`);
    else if (!check(value)) problems.push(`envoyExtAuthzGrpc.${key}: invalid value ${JSON.stringify(value)}`);
  }
  for (const required of ['service', 'port']) {
    if (!(required in grpc)) problems.push(`envoyExtAuthzGrpc.${required} is required`);
  }
  return problems;
}

// ---------------------------------------------------------------------------------------------
// Tests: schema validation and its negative cases

test('deploy/ holds the expected manifests', () => {
  const files = [...new Set(manifests.map((m) => m.file))].sort();
  assert.deepEqual(files, [
    'deploy/istio/authorization-policy.yaml',
    'deploy/istio/mesh-config.yaml',
    'deploy/kubernetes/configmap.yaml',
    'deploy/kubernetes/deployment.yaml',
    'deploy/kubernetes/kustomization.yaml',
    'deploy/kubernetes/namespace.yaml',
    'deploy/kubernetes/networkpolicy.yaml',
    'deploy/kubernetes/pdb.yaml',
    'deploy/kubernetes/service.yaml',
    'deploy/kubernetes/serviceaccount.yaml',
  ]);
});

for (const manifest of manifests) {
  if (kindKey(manifest.doc) === KUSTOMIZATION) continue;
  test(`${manifest.file}: ${kindKey(manifest.doc)} ${String(at(manifest.doc, 'metadata.name'))} is valid`, () => {
    assert.deepEqual(validateManifest(manifest.doc), []);
  });
}

function mutated(doc: JsonObject, mutate: (copy: JsonObject) => void): JsonObject {
  const copy = structuredClone(doc);
  mutate(copy);
  return copy;
}

const brokenManifests: { name: string; doc: () => JsonObject; expect: RegExp }[] = [
  {
    name: 'a Deployment with a string replica count',
    doc: () => mutated(deployment, (d) => (obj(d.spec, 'spec').replicas = 'two')),
    expect: /spec\/replicas must be integer/,
  },
  {
    name: 'a Deployment with a misspelt probe field',
    doc: () =>
      mutated(deployment, (d) => {
        const c = obj(arr(obj(at(d, 'spec.template.spec'), 'pod spec').containers, 'containers')[0], 'container');
        c.readinesProbe = c.readinessProbe ?? null;
        delete c.readinessProbe;
      }),
    expect: /\/spec\/template\/spec\/containers\/0\/readinesProbe: unknown field/,
  },
  {
    name: 'a gRPC probe with a named port (Kubernetes requires a number)',
    doc: () =>
      mutated(deployment, (d) => {
        const c = obj(arr(obj(at(d, 'spec.template.spec'), 'pod spec').containers, 'containers')[0], 'container');
        obj(obj(c.livenessProbe, 'livenessProbe').grpc, 'grpc').port = 'grpc';
      }),
    expect: /livenessProbe\/grpc\/port must be integer/,
  },
  {
    name: 'a Service with a misspelt appProtocol',
    doc: () =>
      mutated(k8sService, (s) => {
        const port = obj(arr(obj(s.spec, 'spec').ports, 'ports')[0], 'port');
        port.applicationProtocol = port.appProtocol ?? null;
        delete port.appProtocol;
      }),
    expect: /\/spec\/ports\/0\/applicationProtocol: unknown field/,
  },
  {
    name: 'an AuthorizationPolicy with an invalid action',
    doc: () => mutated(authorizationPolicy, (p) => (obj(p.spec, 'spec').action = 'CUSTOMER')),
    expect: /spec\/action must be equal to one of the allowed values/,
  },
  {
    name: 'an AuthorizationPolicy with a misspelt operation field',
    doc: () =>
      mutated(authorizationPolicy, (p) => {
        const rule = obj(arr(at(p, 'spec.rules'), 'rules')[0], 'rules[0]');
        const operation = obj(obj(arr(rule.to, 'to')[0], 'to[0]').operation, 'operation');
        operation.notPath = operation.notPaths ?? null;
        delete operation.notPaths;
      }),
    expect: /operation\/notPath: unknown field/,
  },
  {
    name: 'a NetworkPolicy with a misspelt peer selector',
    doc: () =>
      mutated(networkPolicy, (p) => {
        const peer = obj(arr(obj(arr(at(p, 'spec.ingress'), 'ingress')[0], 'ingress[0]').from, 'from')[0], 'from[0]');
        peer.namespaceSelecter = peer.namespaceSelector ?? null;
        delete peer.namespaceSelector;
      }),
    expect: /from\/0\/namespaceSelecter: unknown field/,
  },
  {
    name: 'an unknown kind',
    doc: () => ({ apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'x' } }),
    expect: /unknown kind example\.com\/v1\/Widget/,
  },
];

for (const broken of brokenManifests) {
  test(`negative: ${broken.name} fails validation`, () => {
    const problems = validateManifest(broken.doc());
    assert.ok(
      problems.some((p) => broken.expect.test(p)),
      `expected a problem matching ${String(broken.expect)}, got:\n${problems.join('\n') || '(none)'}`,
    );
  });
}

test('negative: extension provider entries with a typo, a numeric statusOnError or an HTTP-only field fail', () => {
  const good = extensionProvider();
  const typo = structuredClone(good);
  const grpc = obj(typo.envoyExtAuthzGrpc, 'envoyExtAuthzGrpc');
  grpc.failopen = grpc.failOpen ?? null;
  delete grpc.failOpen;
  assert.ok(checkGrpcProvider(typo).some((p) => /unknown field "failopen"/.test(p)));

  const numeric = structuredClone(good);
  obj(numeric.envoyExtAuthzGrpc, 'envoyExtAuthzGrpc').statusOnError = 503;
  assert.ok(checkGrpcProvider(numeric).some((p) => /statusOnError: invalid value 503/.test(p)));

  const httpOnly = structuredClone(good);
  obj(httpOnly.envoyExtAuthzGrpc, 'envoyExtAuthzGrpc').includeRequestHeadersInCheck = ['cookie'];
  assert.ok(checkGrpcProvider(httpOnly).some((p) => /unknown field "includeRequestHeadersInCheck"/.test(p)));
});

// ---------------------------------------------------------------------------------------------
// Tests: kustomization and the Istio provider (not Kubernetes API objects)

test('kustomization.yaml lists every Kubernetes manifest and sets the namespace and image', () => {
  const dir = join(deployDir, 'kubernetes');
  const listed = arr(kustomization.resources, 'resources')
    .map((r) => str(r, 'resource'))
    .sort();
  const present = readdirSync(dir)
    .filter((f) => /\.ya?ml$/.test(f) && f !== 'kustomization.yaml')
    .sort();
  assert.deepEqual(listed, present);
  const namespace = find('Namespace').doc;
  assert.equal(kustomization.namespace, at(namespace, 'metadata.name'));
  const images = arr(kustomization.images, 'images').map((i) => obj(i, 'image'));
  const repository = str(container.image, 'container image').split(':')[0];
  assert.ok(
    images.some((i) => i.name === repository),
    'kustomize rewrites the container image',
  );
  for (const key of Object.keys(kustomization)) {
    assert.ok(
      ['apiVersion', 'kind', 'namespace', 'labels', 'resources', 'images'].includes(key),
      `known kustomization key ${key}`,
    );
  }
});

test('the Istio extension provider is a well-formed envoyExtAuthzGrpc entry', () => {
  assert.deepEqual(checkGrpcProvider(extensionProvider()), []);
});

// ---------------------------------------------------------------------------------------------
// Tests: cross-checks with the service configuration

test("the ConfigMap's config.yaml is accepted by the service's own config parser", () => {
  assert.doesNotThrow(() => parseConfig(parseAllDocuments(configText)[0]?.toJS() as unknown, {}));
});

test('Deployment: 2 replicas, ports equal the ConfigMap service config', () => {
  assert.equal(at(deployment, 'spec.replicas'), 2);
  assert.equal(containerPort('grpc'), portOf(serviceConfig.server.grpc_address));
  assert.equal(containerPort('http-metrics'), portOf(serviceConfig.server.http_address));
  assert.equal(containerPort('http-authz'), portOf(serviceConfig.server.http_authz_address));
  assert.equal(portOf(serviceConfig.server.grpc_address), 9191);
  assert.equal(portOf(serviceConfig.server.http_address), 9192);
  assert.equal(portOf(serviceConfig.server.http_authz_address), 9193);
});

test('Deployment: native gRPC probes on the gRPC port, /readyz on the HTTP port', () => {
  const grpcPort = portOf(serviceConfig.server.grpc_address);
  const httpPort = portOf(serviceConfig.server.http_address);
  assert.deepEqual(at(container, 'livenessProbe.grpc'), { port: grpcPort });
  assert.deepEqual(at(container, 'readinessProbe.grpc'), {
    port: grpcPort,
    service: 'envoy.service.auth.v3.Authorization',
  });
  assert.deepEqual(at(container, 'startupProbe.httpGet'), { path: '/readyz', port: httpPort });
});

test('Deployment: the ConfigMap is mounted where --config points', () => {
  const args = arr(container.args, 'args').map((a) => str(a, 'arg'));
  const configPath = args[args.indexOf('--config') + 1];
  assert.ok(configPath);
  const volumes = arr(podSpec.volumes, 'volumes').map((v) => obj(v, 'volume'));
  const configVolume = volumes.find((v) => at(v, 'configMap.name') === at(configMap, 'metadata.name'));
  assert.ok(configVolume, 'a volume from the ConfigMap');
  const mount = arr(container.volumeMounts, 'volumeMounts')
    .map((m) => obj(m, 'mount'))
    .find((m) => m.name === configVolume.name);
  assert.ok(mount);
  assert.equal(mount.readOnly, true);
  const key = configPath.slice(str(mount.mountPath, 'mountPath').length + 1);
  assert.equal(`${String(mount.mountPath)}/${key}`, configPath);
  assert.ok(key in obj(configMap.data, 'ConfigMap data'), `ConfigMap has key ${key}`);
});

test('Deployment: resources, non-root, read-only root filesystem, no privilege escalation', () => {
  for (const kind of ['requests', 'limits']) {
    assert.ok(at(container, `resources.${kind}.cpu`), `${kind}.cpu`);
    assert.ok(at(container, `resources.${kind}.memory`), `${kind}.memory`);
  }
  assert.equal(at(podSpec, 'securityContext.runAsNonRoot'), true);
  assert.notEqual(at(podSpec, 'securityContext.runAsUser'), 0);
  assert.equal(at(container, 'securityContext.readOnlyRootFilesystem'), true);
  assert.equal(at(container, 'securityContext.allowPrivilegeEscalation'), false);
  assert.deepEqual(at(container, 'securityContext.capabilities.drop'), ['ALL']);
});

test('Deployment: the grace period covers the preStop sleep and server.shutdown_timeout', () => {
  const command = arr(at(container, 'lifecycle.preStop.exec.command'), 'preStop command');
  assert.equal(command[0], 'sleep');
  const sleepMs = Number(command[1]) * 1000;
  const graceMs = Number(podSpec.terminationGracePeriodSeconds) * 1000;
  assert.ok(
    graceMs > sleepMs + serviceConfig.server.shutdown_timeout,
    `${graceMs} > ${sleepMs} + ${serviceConfig.server.shutdown_timeout}`,
  );
});

test('Service and PodDisruptionBudget select the Deployment pods; gRPC port has appProtocol grpc', () => {
  const podLabels = obj(at(deployment, 'spec.template.metadata.labels'), 'pod labels');
  const selects = (selector: JsonObject): boolean => Object.entries(selector).every(([k, v]) => podLabels[k] === v);
  assert.ok(selects(obj(at(k8sService, 'spec.selector'), 'service selector')));
  const pdb = find('PodDisruptionBudget').doc;
  assert.ok(selects(obj(at(pdb, 'spec.selector.matchLabels'), 'pdb selector')));
  assert.ok(
    Number(at(pdb, 'spec.minAvailable')) < Number(at(deployment, 'spec.replicas')),
    'a voluntary eviction is possible',
  );

  const grpcPort = arr(at(k8sService, 'spec.ports'), 'service ports')
    .map((p) => obj(p, 'port'))
    .find((p) => p.name === 'grpc');
  assert.ok(grpcPort);
  assert.equal(grpcPort.appProtocol, 'grpc');
  assert.equal(grpcPort.port, portOf(serviceConfig.server.grpc_address));
  assert.equal(grpcPort.targetPort, 'grpc');
  assert.equal(containerPort(str(grpcPort.targetPort, 'targetPort')), portOf(serviceConfig.server.grpc_address));

  const authzPort = arr(at(k8sService, 'spec.ports'), 'service ports')
    .map((p) => obj(p, 'port'))
    .find((p) => p.name === 'http-authz');
  assert.ok(authzPort, 'the HTTP front doors are reachable through the Service');
  assert.equal(containerPort(str(authzPort.targetPort, 'targetPort')), portOf(serviceConfig.server.http_authz_address));
});

test('Istio provider: points at the Service, fails closed with 503, timeout covers the Kratos budget', () => {
  const provider = extensionProvider();
  const grpc = obj(provider.envoyExtAuthzGrpc, 'envoyExtAuthzGrpc');
  const namespace = str(kustomization.namespace, 'kustomization namespace');
  assert.equal(grpc.service, `${String(at(k8sService, 'metadata.name'))}.${namespace}.svc.cluster.local`);
  const servicePort = arr(at(k8sService, 'spec.ports'), 'service ports')
    .map((p) => obj(p, 'port'))
    .find((p) => p.name === 'grpc');
  assert.equal(Number(grpc.port), servicePort?.port);
  assert.equal(grpc.failOpen, false);
  assert.equal(grpc.statusOnError, '503');
  const timeoutMs = protoDurationMs(str(grpc.timeout, 'timeout'));
  assert.ok(timeoutMs > serviceConfig.kratos.timeout, 'explicit timeout (Istio defaults to 600s) above kratos.timeout');
  assert.ok(timeoutMs > 2 * serviceConfig.kratos.timeout, 'and above whoami + identity lookup');
});

test('AuthorizationPolicy: CUSTOM action with the registered provider; Kratos paths excluded', () => {
  assert.equal(at(authorizationPolicy, 'spec.action'), 'CUSTOM');
  assert.equal(at(authorizationPolicy, 'spec.provider.name'), extensionProvider().name);
  const operations = arr(at(authorizationPolicy, 'spec.rules'), 'rules').flatMap((r) =>
    arr(obj(r, 'rule').to, 'to').map((t) => obj(obj(t, 'to').operation, 'operation')),
  );
  const excluded = operations.flatMap((o) => (Array.isArray(o.notPaths) ? o.notPaths : []));
  for (const path of ['/self-service/*', '/sessions/*']) assert.ok(excluded.includes(path), `${path} is excluded`);
});

// Issue 18: only the proxy may reach the gRPC and HTTP-authz ports.
test('NetworkPolicy: selects the Deployment pods; the gRPC and HTTP-authz ports only from the proxy, the ops port from Prometheus', () => {
  const podLabels = obj(at(deployment, 'spec.template.metadata.labels'), 'pod labels');
  const selector = obj(at(networkPolicy, 'spec.podSelector.matchLabels'), 'podSelector');
  assert.ok(
    Object.keys(selector).length > 0 && Object.entries(selector).every(([k, v]) => podLabels[k] === v),
    'selects the authorizer pods',
  );
  assert.deepEqual(at(networkPolicy, 'spec.policyTypes'), ['Ingress']);
  const rules = arr(at(networkPolicy, 'spec.ingress'), 'ingress').map((r) => obj(r, 'ingress rule'));
  const portsOf = (rule: JsonObject) => arr(rule.ports, 'ports').map((p) => obj(p, 'port').port);
  const containerPortNames = arr(container.ports, 'container ports').map((p) => obj(p, 'port').name);
  for (const rule of rules) {
    // A rule without `from` (or with an empty one) admits every peer, and one without ports every port.
    const peers = arr(rule.from, 'from').map((peer) => obj(peer, 'peer'));
    assert.ok(peers.length > 0, 'every rule names its peers');
    for (const peer of peers) {
      assert.ok(!('ipBlock' in peer), 'peers are chosen by label, not address');
      assert.ok(
        Object.keys(obj(at(peer, 'namespaceSelector.matchLabels'), 'namespaceSelector')).length > 0,
        'each peer names its namespace',
      );
    }
    for (const port of portsOf(rule))
      assert.ok(
        typeof port === 'number' || containerPortNames.includes(port),
        `port ${String(port)} is a container port`,
      );
  }
  const admitting = (port: string) => rules.filter((rule) => portsOf(rule).includes(port));
  for (const port of ['grpc', 'http-authz']) {
    assert.equal(admitting(port).length, 1, `one rule admits ${port}`);
    for (const peer of arr(admitting(port)[0]?.from, 'from'))
      assert.ok(
        Object.keys(obj(at(obj(peer, 'peer'), 'podSelector.matchLabels'), 'podSelector')).length > 0,
        `${port}: only the proxy's pods, not whole namespaces`,
      );
  }
  const metrics = admitting('http-metrics');
  assert.equal(metrics.length, 1);
  assert.ok(
    !portsOf(metrics[0] as JsonObject).some((port) => port === 'grpc' || port === 'http-authz'),
    'Prometheus does not reach the decision ports',
  );
  assert.deepEqual(
    containerPortNames.filter((name) => admitting(String(name)).length === 0),
    [],
    'every container port is admitted from somewhere',
  );
});
