// Which kinds of stack the e2e suite runs, as E2E_STACK names them. Kept free of any runtime so
// a unit test can check it (test/unit/e2e/stack-kinds.test.ts).

export type StackKind = 'process' | 'container';

const CHOICES: Record<string, readonly StackKind[]> = {
  process: ['process'],
  container: ['container'],
  both: ['process', 'container'],
};

/**
 * The stack kinds E2E_STACK asks for, in the order they run. Unset or empty is `process`: the
 * local binaries need no image registry, so CI's process runs and a developer whose daemon cannot
 * pull are unaffected by a Docker daemon that happens to run. A value it does not know is an
 * error, never a silent default.
 */
export function requestedStackKinds(value: string | undefined): readonly StackKind[] {
  if (value === undefined || value === '') return ['process'];
  const kinds = Object.hasOwn(CHOICES, value) ? CHOICES[value] : undefined;
  if (!kinds)
    throw new Error(
      `E2E_STACK must be one of ${Object.keys(CHOICES).join(', ')} (or unset: process), not ${JSON.stringify(value)}`,
    );
  return kinds;
}
