// End to end, through a real Envoy and a real Ory Kratos: the story (test/e2e/story.ts) on every
// stack E2E_STACK selects (plans.ts): the local binaries, one stack per pinned Envoy version
// (`npm run stack:install` first if needed), and/or the containers.
//
//   npm run test:e2e                      E2E_STACK=container|both npm run test:e2e
//
// A stack kind that cannot run here is skipped with its reason, and never in CI (CI=true): there a skip is a failure.
import { test } from 'node:test';
import { onEveryStack } from './run-stack';
import { runStory } from './story';

test(
  'e2e: Envoy + kratos-ext-authz + Ory Kratos (cookies need the highest available AAL, tokens aal1)',
  { timeout: 20 * 60_000 },
  async (t) => {
    await onEveryStack(t, runStory);
  },
);
