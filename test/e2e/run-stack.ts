import { logTails, type Stack, type StackPlan } from './stack';

/**
 * Starts the planned stack (printing its one-line description), runs `body`, prints every log's
 * tail when `body` reports failure or throws, and always stops the stack.
 */
export async function withStack(plan: StackPlan, body: (stack: Stack) => Promise<boolean>): Promise<void> {
  process.stderr.write(`e2e stack: ${plan.description}\n`);
  let stack: Stack;
  try {
    stack = await plan.start();
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
