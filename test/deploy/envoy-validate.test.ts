// The shipped envoy/envoy.yaml and every configuration generated from it (the local stack's,
// each e2e variant) checked by the real Envoy binaries (`envoy --mode validate`), every pinned
// version. Runs where `npm run stack:install` has installed them; CI installs them first, so
// there a missing binary fails instead of skipping.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { envoyConfig, toYaml } from '../../stack/configs';
import { envoyBinaryPath, pinnedVersions } from '../../stack/versions';
import { ENVOY_VARIANTS } from '../e2e/variants';
import { projectRoot } from '../support/project-files';
import { SAMPLE_PORTS } from '../support/sample-ports';

function validate(envoy: string, file: string): { ok: boolean; out: string } {
  const result = spawnSync(envoy, ['--mode', 'validate', '-c', file, '--log-level', 'warn', '--use-dynamic-base-id'], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { ok: result.status === 0, out: `${result.stdout}${result.stderr}` };
}

for (const version of pinnedVersions().envoy) {
  const envoy = envoyBinaryPath(version);
  const installed = existsSync(envoy);
  const skip = installed ? false : `envoy ${version} is not installed (npm run stack:install)`;
  if (!installed && process.env.CI === 'true') {
    test(`envoy ${version} is installed for CI`, () =>
      assert.fail(`${envoy} is missing: .ci/run must run npm run stack:install first`));
    continue;
  }

  test(`envoy ${version} --mode validate accepts envoy/envoy.yaml and every generated variant`, { skip }, () => {
    const dir = mkdtempSync(join(tmpdir(), 'envoy-validate-'));
    try {
      const files: [string, string][] = [['envoy/envoy.yaml (Docker demo)', join(projectRoot, 'envoy', 'envoy.yaml')]];
      const generated: [string, string][] = [
        ['local stack', toYaml(envoyConfig(SAMPLE_PORTS))],
        // The WebAuthn browser test's stack: every browser URL (the CORS origins) on localhost.
        ['local stack on localhost', toYaml(envoyConfig(SAMPLE_PORTS, undefined, 'localhost'))],
        ...ENVOY_VARIANTS.map((v): [string, string] => [v.name, toYaml(envoyConfig(SAMPLE_PORTS, v.adjust))]),
      ];
      for (const [name, text] of generated) {
        const file = join(dir, `${name.replace(/\W+/g, '-')}.yaml`);
        writeFileSync(file, text);
        files.push([name, file]);
      }
      for (const [name, file] of files) {
        const { ok, out } = validate(envoy, file);
        assert.ok(ok, `${name}: ${out}`);
        assert.match(out, /OK/, `${name}: ${out}`);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test(`envoy ${version} --mode validate rejects a broken configuration (the check can fail)`, { skip }, () => {
    const dir = mkdtempSync(join(tmpdir(), 'envoy-validate-'));
    try {
      const file = join(dir, 'broken.yaml');
      writeFileSync(
        file,
        toYaml(
          envoyConfig(SAMPLE_PORTS, (config) => {
            // A route to a cluster that does not exist: proto-valid, refused by Envoy itself.
            const text = JSON.stringify(config).replace('"cluster":"upstream"', '"cluster":"no_such_cluster"');
            Object.assign(config, JSON.parse(text) as object);
          }),
        ),
      );
      const { ok, out } = validate(envoy, file);
      assert.equal(ok, false, out);
      assert.match(out, /no_such_cluster/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}
