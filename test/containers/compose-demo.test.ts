/**
 * The compose demo as its users run it: `docker compose up --build` of envoy/docker-compose.yml (Envoy,
 * Kratos and its migration, kratos-ext-authz, the echo upstream, the login UI), the e2e story
 * through it (test/e2e/story.ts: register, the 302 step-up, TOTP, aal2 with identity headers,
 * tokens at aal1, XHR 403 JSON), then `docker compose down -v` and the built image removed, which
 * must leave nothing behind.
 * Needs a Docker daemon, the images of scripts/container-images.sh and `docker compose`
 * (scripts/install-compose.sh); under CI=true a missing one fails instead of skipping.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { before, test } from 'node:test';
import { logTails } from '../e2e/stack';
import { runStory } from '../e2e/story';
import { missingCompose, projectResources, serviceImage, startComposeDemo } from './compose-demo';
import { missingRuntime } from './docker';

let unavailable: string | undefined;
before(async () => {
  unavailable = (await missingRuntime()) ?? (await missingCompose());
  if (unavailable && process.env.CI === 'true') throw new Error(`container tests under CI: ${unavailable}`);
});

test(
  'compose demo: up --build, the e2e story through Envoy, down -v leaves no container, network or volume',
  { timeout: 15 * 60_000 },
  async (t) => {
    if (unavailable) return t.skip(unavailable);
    const project = `kratos-ext-authz-test-${randomUUID().slice(0, 8)}`;
    const demo = await startComposeDemo(project);
    t.diagnostic(`${demo.description}: ready ${(demo.readyInMs / 1000).toFixed(1)} s after up`);
    let passed = false;
    try {
      // What down -v must remove: the six services' containers (the migration's has exited), the
      // project network and the Kratos database volume; and then the image that --build made.
      const up = await projectResources(project);
      assert.equal(up.containers.length, 6, up.containers.join(', '));
      assert.deepEqual(up.networks, [`${project}_default`]);
      assert.deepEqual(up.volumes, [`${project}_kratos-sqlite`]);
      assert.deepEqual(up.images, [serviceImage(project)]);
      assert.equal((await fetch(`${demo.extAuthzOpsUrl}/readyz`)).status, 200);
      passed = await runStory(t, demo);
    } finally {
      if (!passed) process.stderr.write(`${logTails(demo.logs)}\n`);
      const stopping = performance.now();
      await demo.down();
      t.diagnostic(`down -v took ${((performance.now() - stopping) / 1000).toFixed(1)} s`);
    }
    assert.deepEqual(await projectResources(project), { containers: [], networks: [], volumes: [], images: [] });
  },
);
