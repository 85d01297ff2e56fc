import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { oncePer } from '../../../src/observability/once-per';

function fakeClock(start = 1_000): { now: () => number; advance: (ms: number) => void } {
  let time = start;
  return { now: () => time, advance: (ms) => (time += ms) };
}

describe('oncePer', () => {
  test('runs the first call immediately', () => {
    let calls = 0;
    oncePer(60_000, () => calls++, fakeClock().now)();
    assert.equal(calls, 1);
  });

  test('suppresses calls within the interval and runs again once it has passed', () => {
    const clock = fakeClock();
    let calls = 0;
    const warn = oncePer(1_000, () => calls++, clock.now);
    warn();
    warn();
    clock.advance(999);
    warn();
    assert.equal(calls, 1);
    clock.advance(1);
    warn();
    assert.equal(calls, 2);
    clock.advance(500);
    warn();
    assert.equal(calls, 2);
  });

  test('the interval restarts from the last call that ran, not the last attempt', () => {
    const clock = fakeClock();
    let calls = 0;
    const warn = oncePer(1_000, () => calls++, clock.now);
    warn(); // t=0 runs
    clock.advance(600);
    warn(); // t=600 suppressed
    clock.advance(400);
    warn(); // t=1000 runs
    assert.equal(calls, 2);
  });

  test('interval 0 runs every call', () => {
    let calls = 0;
    const clock = fakeClock();
    const warn = oncePer(0, () => calls++, clock.now);
    warn();
    warn();
    warn();
    assert.equal(calls, 3);
  });

  test('separate wrappers are independent', () => {
    const clock = fakeClock();
    let a = 0;
    let b = 0;
    const warnA = oncePer(1_000, () => a++, clock.now);
    const warnB = oncePer(1_000, () => b++, clock.now);
    warnA();
    warnB();
    warnA();
    assert.deepEqual([a, b], [1, 1]);
  });

  test('defaults to Date.now', () => {
    let calls = 0;
    const warn = oncePer(60_000, () => calls++);
    warn();
    warn();
    assert.equal(calls, 1);
  });
});
