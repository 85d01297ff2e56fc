// The Kratos and the Node the project ships with, the same everywhere: the compose demo (and so
// the e2e containers, which read their images from it) runs the newest pinned Kratos; the
// Dockerfile, the demo's Node services, package.json's engines and @types/node, and the Node
// .ci/run tests with are one Node major.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pinnedVersions } from '../../stack/versions';
import { at, obj, readText, readYaml, str } from '../support/project-files';

const services = obj(obj(readYaml('envoy/docker-compose.yml'), 'docker-compose.yml').services, 'services');
const image = (name: string): string => str(at(obj(services[name], name), 'image'), `${name}.image`);
const majorOf = (version: string): number => Number(/(\d+)\./.exec(version)?.[1]);

test('the compose demo and the e2e containers run the newest pinned Kratos', () => {
  const newest = pinnedVersions().kratos.at(-1);
  assert.equal(image('kratos'), `oryd/kratos:${String(newest)}`);
  assert.equal(image('kratos-migrate'), image('kratos'));
});

test('one Node major: the Dockerfile base, the demo services, engines, @types/node and .ci/run', () => {
  const base = /^ARG NODE_IMAGE=node:(\S+)$/m.exec(readText('Dockerfile'))?.[1];
  assert.ok(base, 'the Dockerfile names its Node image');
  const pkg = JSON.parse(readText('package.json')) as {
    engines: { node: string };
    devDependencies: Record<string, string>;
  };
  const major = majorOf(base);
  assert.equal(major % 2, 0, 'an even (LTS) Node major');
  assert.equal(pkg.engines.node, `>=${major}`);
  assert.equal(majorOf(pkg.devDependencies['@types/node'] ?? ''), major);
  for (const name of ['upstream', 'ui']) assert.equal(image(name), `node:${base}`);
  const ci = /^runtime_node_version=(\S+)$/m.exec(readText('.ci/run'))?.[1];
  assert.equal(ci && `${ci}-bookworm-slim`, base, '.ci/run tests on the Node the image ships');
});
