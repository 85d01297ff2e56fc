import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { DeferredTimers } from '../../../src/grpc/deferred-timers';

describe('DeferredTimers', () => {
  test('the calls begun in one turn are armed together once it is over, each once', async () => {
    const timers = new DeferredTimers();
    const armed: string[] = [];
    timers.defer({ arm: () => armed.push('a') });
    timers.defer({ arm: () => armed.push('b') });
    assert.deepEqual(armed, [], 'not within the turn that began them');
    await nextTurn();
    assert.deepEqual(armed, ['a', 'b']);
    await nextTurn();
    assert.deepEqual(armed, ['a', 'b']);
  });

  test('a call begun while others are armed waits for the next turn, and is still armed', async () => {
    const timers = new DeferredTimers();
    const armed: string[] = [];
    timers.defer({
      arm: () => {
        armed.push('first');
        timers.defer({ arm: () => armed.push('second') });
      },
    });
    await nextTurn();
    assert.deepEqual(armed, ['first']);
    await nextTurn();
    assert.deepEqual(armed, ['first', 'second']);
  });
});
