// End to end, through a real Envoy and a real Ory Kratos: the story (test/e2e/story.ts) against
// containers when a container runtime is reachable, otherwise against the local binaries (one
// stack per pinned Envoy version, `npm run stack:install` first if needed).
//
//   npm run test:e2e
//
// It skips only when neither is possible, and never in CI (CI=true): there a skip is a failure.
import { test } from 'node:test';
import { stacksOrSkip } from './plans';
import { withStack } from './run-stack';
import { runStory } from './story';

test('e2e: Envoy + kratos-ext-authz + Ory Kratos (cookies need the highest available AAL, tokens aal1)', { timeout: 20 * 60_000 }, async (t) => {
  const chosen = await stacksOrSkip(t);
  if (!chosen) return;
  for (const plan of chosen.plans) {
    await t.test(plan.description, (st) => withStack(plan, (stack) => runStory(st, stack)));
  }
});
