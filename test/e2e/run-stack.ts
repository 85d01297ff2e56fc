import type { TestContext } from 'node:test';
import { stackFactories } from './plans';
import { logTails, type Stack, type StackPlan } from './stack';

/**
 * Starts the planned stack (printing its one-line description), runs `body`, prints every log's
 * tail when `body` reports failure or throws, and always stops the stack.
 */
export async function withStack(plan: StackPlan, body: (stack: Stack) => Promise<boolean>): Promise<void> {
  process.stderr.write(`e2e stack: ${plan.description}\n`);
  let stack: Stack;
  const starting = performance.now();
  try {
    stack = await plan.start();
    process.stderr.write(
      `e2e stack up in ${((performance.now() - starting) / 1000).toFixed(1)} s: ${plan.description}\n`,
    );
  } catch (error) {
    const logs = (error as { stackLogs?: Map<string, string[]> }).stackLogs;
    if (logs) process.stderr.write(`${logTails(logs)}\n`);
    throw error;
  }
  let passed = false;
  try {
    passed = await body(stack);
  } finally {
    if (!passed) process.stderr.write(`${logTails(stack.logs)}\n`);
    await stack.stop();
  }
}

/**
 * Each stack E2E_STACK selects (plans.ts), once per Envoy version it runs: `body` as a subtest of
 * `t` named by the stack's description, on a stack started for it and stopped after it.
 */
export async function onEveryStack(
  t: TestContext,
  body: (st: TestContext, stack: Stack) => Promise<boolean>,
): Promise<void> {
  for (const factory of await stackFactories(t)) {
    for (const envoy of factory.envoyVersions) {
      const plan = factory.plan(envoy);
      await t.test(plan.description, (st) => withStack(plan, (stack) => body(st, stack)));
    }
  }
}
