import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { callBudget } from '../../../src/kratos/budget';

const NOW = 1_700_000_000_000;
const context = (deadline: number) => ({ requestId: undefined, deadline });

describe('callBudget', () => {
  test('no deadline (Infinity): the configured timeout', () => {
    assert.equal(callBudget(150, context(Infinity), NOW), 150);
  });

  test('a deadline further away than the timeout: the timeout', () => {
    assert.equal(callBudget(150, context(NOW + 10_000), NOW), 150);
  });

  test('a deadline shorter than the timeout: the time left minus a tenth of it', () => {
    assert.equal(callBudget(1_000, context(NOW + 200), NOW), 180);
    assert.equal(callBudget(1_000, context(NOW + 500), NOW), 450);
  });

  test('the margin is at least 10 ms', () => {
    assert.equal(callBudget(150, context(NOW + 60), NOW), 50);
    assert.equal(callBudget(150, context(NOW + 100), NOW), 90);
  });

  test('the timeout wins exactly at the boundary', () => {
    assert.equal(callBudget(90, context(NOW + 100), NOW), 90);
    assert.equal(callBudget(91, context(NOW + 100), NOW), 90);
  });

  test('fractional results are rounded down to whole milliseconds', () => {
    assert.equal(callBudget(1_000, context(NOW + 100.9), NOW), 90);
    assert.equal(callBudget(150.7, context(Infinity), NOW), 150);
  });

  test('no time left: zero or less', () => {
    assert.equal(callBudget(150, context(NOW + 10), NOW), 0);
    assert.ok(callBudget(150, context(NOW + 7), NOW) <= 0);
    assert.ok(callBudget(150, context(NOW), NOW) <= 0);
    assert.ok(callBudget(150, context(NOW - 1_000), NOW) <= 0);
  });

  test('uses Date.now() when no time is given', () => {
    const budget = callBudget(10_000, context(Date.now() + 1_000));
    assert.ok(budget <= 900 && budget > 850, String(budget));
  });
});
