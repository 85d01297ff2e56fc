// The local stack's configuration files are the Docker demo's (envoy/) with only the addresses
// changed: every upstream on 127.0.0.1 at its own port, every browser URL on the stack's origin,
// and nothing else different.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { envoyConfig, kratosConfig, readProjectYaml, serviceConfig, type Json } from '../../stack/configs';
import { SAMPLE_PORTS } from '../support/sample-ports';

/** Every string in a parsed file. */
function strings(value: Json): string[] {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.flatMap(strings);
  if (value !== null && typeof value === 'object') return Object.values(value).flatMap(strings);
  return [];
}

/** Every socket_address in a parsed Envoy config, as host:port. */
function sockets(value: Json): string[] {
  if (Array.isArray(value)) return value.flatMap(sockets);
  if (value === null || typeof value !== 'object') return [];
  const here = value.socket_address;
  const own =
    here !== null && typeof here === 'object' && !Array.isArray(here)
      ? [`${String(here.address)}:${String(here.port_value)}`]
      : [];
  return [
    ...own,
    ...Object.entries(value)
      .filter(([k]) => k !== 'socket_address')
      .flatMap(([, v]) => sockets(v)),
  ];
}

test('envoy.yaml for the local stack: every listener and cluster on 127.0.0.1 at the stack ports', () => {
  const generated = envoyConfig(SAMPLE_PORTS);
  assert.deepEqual(
    sockets(generated).sort(),
    [
      '127.0.0.1:14433',
      '127.0.0.1:14455',
      '127.0.0.1:18000',
      '127.0.0.1:18080',
      '127.0.0.1:19191',
      '127.0.0.1:19901',
    ].sort(),
  );
  assert.ok(!strings(generated).some((s) => s.includes(':8080')), 'no demo origin left');
  assert.ok(strings(generated).includes('http://127.0.0.1:18080'), 'the CORS origin follows the stack');
  assert.ok(strings(envoyConfig(SAMPLE_PORTS, undefined, 'localhost')).includes('http://localhost:18080'));
});

test('envoy.yaml for the local stack differs from the shipped one only in addresses and origins', () => {
  const mask = (value: Json): Json => {
    if (typeof value === 'string')
      return /^https?:\/\/(127\.0\.0\.1|localhost)(:\d+)?/.test(value)
        ? 'ORIGIN'
        : ['kratos', 'ext-authz', 'upstream', 'ui', '0.0.0.0', '127.0.0.1'].includes(value)
          ? 'HOST'
          : value;
    if (typeof value === 'number') return value > 1000 ? 'PORT' : value;
    if (Array.isArray(value)) return value.map(mask);
    if (value !== null && typeof value === 'object')
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, mask(v)]));
    return value;
  };
  assert.deepEqual(mask(envoyConfig(SAMPLE_PORTS)), mask(readProjectYaml('envoy/envoy.yaml')));
});

test('kratos.yml and config.yaml for the local stack point at the stack', () => {
  const kratos = kratosConfig(SAMPLE_PORTS);
  const texts = strings(kratos);
  assert.ok(!texts.some((s) => s.includes(':8080') || s.includes('kratos:4434')), texts.join(' '));
  assert.ok(texts.includes('http://127.0.0.1:18080/ui/login'));
  assert.ok(texts.some((s) => s.startsWith('file:///') && s.endsWith('/envoy/kratos/identity.schema.json')));
  assert.equal('dsn' in kratos, false, 'the DSN comes from the environment');
  const service = serviceConfig(SAMPLE_PORTS);
  assert.deepEqual(
    [service.server, service.kratos].map((section) => JSON.stringify(section)),
    [
      JSON.stringify({
        grpc_address: '127.0.0.1:19191',
        http_address: '127.0.0.1:19192',
        shutdown_timeout: '10s',
        http_authz_address: '',
      }),
      JSON.stringify({
        public_url: 'http://127.0.0.1:14433',
        admin_url: 'http://127.0.0.1:14434',
        browser_url: 'http://127.0.0.1:18080',
        session_cookie: 'ory_kratos_session',
        timeout: '150ms',
      }),
    ],
  );
});
