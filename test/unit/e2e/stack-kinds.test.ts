// E2E_STACK, as the e2e suite reads it (test/e2e/stack-kinds.ts): which stack kinds run, in what order.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { requestedStackKinds } from '../../e2e/stack-kinds';

test('E2E_STACK unset or empty runs the process stack only', () => {
  assert.deepEqual(requestedStackKinds(undefined), ['process']);
  assert.deepEqual(requestedStackKinds(''), ['process']);
});

test('E2E_STACK names one kind, or both: processes first', () => {
  assert.deepEqual(requestedStackKinds('process'), ['process']);
  assert.deepEqual(requestedStackKinds('container'), ['container']);
  assert.deepEqual(requestedStackKinds('both'), ['process', 'container']);
});

test('an E2E_STACK it does not know is an error naming the choices, never a default', () => {
  for (const value of ['containers', 'Process', 'all', ' both', 'toString', '__proto__']) {
    assert.throws(
      () => requestedStackKinds(value),
      (error: Error) =>
        error.message.includes('process, container, both') && error.message.includes(JSON.stringify(value)),
      value,
    );
  }
});
