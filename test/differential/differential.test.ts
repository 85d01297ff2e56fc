/**
 * The adversary that is not the author (issue 18): seeded hostile request variants through each
 * real proxy with its shipped config, in front of real apps of three frameworks (Express, a
 * WSGI app, Go net/http), beside the real service and the Kratos emulator. For every variant:
 * the rule the authorizer applied asks at least as much as the rule of the route the app served
 * (or the request never reached the app), and no identity value reached the app that the
 * authorizer did not set. The corpus (corpus.json) is replayed first.
 *
 * DIFFERENTIAL_SEED and DIFFERENTIAL_BUDGET (variants per proxy and app) change the run;
 * DIFFERENTIAL_RECORD=1 adds the variants that found something to the corpus.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startHarness, type Harness } from '../support/harness';
import { fetchJwks, type Jwk } from '../support/jwt';
import { freePort, skipUnlessInstalled } from '../proxies/support/proxy-process';
import { readCorpus, recordFindings, recording, type CorpusEntry } from './support/corpus';
import { serviceConfig } from './support/policy';
import { PROXIES } from './support/proxies';
import { runPair, type Outcome } from './support/run-pair';
import { summary } from './support/summary';
import { startUpstream, upstreamUnavailable, type Framework, type Upstream } from './support/upstreams';
import { sampleVariants } from './support/variants';

const SEED = Number(process.env.DIFFERENTIAL_SEED ?? 18);
const BUDGET = Number(process.env.DIFFERENTIAL_BUDGET ?? 100);
const FRAMEWORKS: readonly Framework[] = ['express', 'wsgi', 'go'];

describe(`differential: every proxy × every app, seed ${SEED}, ${BUDGET} variants per pair after the corpus`, () => {
  let harness: Harness;
  let jwks: Jwk[];
  let dir: string;
  const upstreams = new Map<Framework, Upstream>();
  const found: CorpusEntry[] = [];
  const corpus = readCorpus();

  before(async () => {
    harness = await startHarness({ config: serviceConfig() });
    jwks = (await fetchJwks(harness.service.httpPort)).keys;
    dir = mkdtempSync(join(tmpdir(), 'kratos-ext-authz-differential-'));
    for (const framework of FRAMEWORKS)
      if (upstreamUnavailable(framework) === undefined) upstreams.set(framework, await startUpstream(framework));
  });

  after(async () => {
    for (const upstream of upstreams.values()) await upstream.stop();
    await harness.close();
    rmSync(dir, { recursive: true, force: true });
    if (recording) console.log(`differential: ${recordFindings(found)} new variant(s) recorded in corpus.json`);
  });

  PROXIES.forEach((proxy, proxyIndex) => {
    FRAMEWORKS.forEach((framework, frameworkIndex) => {
      const missing = proxy.unavailable() ?? upstreamUnavailable(framework);
      test(`${proxy.name} → ${framework}`, { skip: skipUnlessInstalled(missing) }, async (t) => {
        assert.equal(missing, undefined, missing);
        const upstream = upstreams.get(framework);
        assert.ok(upstream, `the ${framework} app runs`);
        const port = await freePort();
        assert.ok(harness.service.httpAuthzPort);
        const ports = {
          grpc: harness.service.grpcPort,
          httpAuthz: harness.service.httpAuthzPort,
          kratosPublic: Number(new URL(harness.emulator.publicUrl).port),
          app: upstream.port,
          proxy: port,
        };
        const proxyDir = join(dir, `${proxy.name}-${framework}`);
        mkdirSync(proxyDir, { recursive: true });
        const running = await proxy.start(ports, proxyDir);
        const replayed = corpus
          .map((entry) => entry.variant)
          .filter((variant) => proxy.http2 || variant.protocol === 'http1');
        const seeded = sampleVariants(SEED * 100 + proxyIndex * 10 + frameworkIndex, BUDGET, proxy.http2);
        let outcomes: Outcome[];
        try {
          outcomes = await runPair(harness, jwks, upstream, port, [...replayed, ...seeded]);
        } finally {
          await running.stop();
        }
        for (const line of summary(outcomes, replayed.length)) t.diagnostic(line);
        const failing = outcomes.filter((outcome) => outcome.violations.length > 0);
        for (const { violations, variant } of failing)
          if (variant)
            found.push({
              note: `${proxy.name} → ${framework}: ${violations.map((v) => `${v.kind}: ${v.detail}`).join('; ')}`,
              variant,
            });
        assert.deepEqual(
          failing
            .map((outcome) => ({ violations: outcome.violations, status: outcome.status, variant: outcome.variant }))
            .slice(0, 8),
          [],
          `${failing.length} of ${outcomes.length} variants found something through ${proxy.name} → ${framework}`,
        );
      });
    });
  });
});
