import assert from 'node:assert/strict';
import { test } from 'node:test';
import { methodReadings } from '../../src/request/method';
import { describeWork, workOf } from './support/bounded-work';
import { headerBag } from './support/request';

const ONE_MIB = 1024 * 1024;

test('an override header of a million commas is scanned, not split into a million pieces', () => {
  let readings: readonly string[] | undefined;
  const work = workOf(() => (readings = methodReadings('POST', '/x', headerBag([['x-http-method-override', ','.repeat(ONE_MIB)]]))));
  assert.deepEqual(readings, ['POST']);
  assert.ok(work.allocatedMiB < 4, describeWork(work));
});

test('a header naming more methods than any request means is refused as soon as they are counted', () => {
  const many = Array.from({ length: 200_000 }, (_, index) => `M${index}`).join(',');
  let readings: readonly string[] | undefined = ['unset'];
  const work = workOf(() => (readings = methodReadings('POST', '/x', headerBag([['x-http-method-override', many]]))));
  assert.equal(readings, undefined);
  assert.ok(work.allocatedMiB < 4, describeWork(work));
});

test('each comma-separated element, trimmed and upper-cased, the method as sent first', () => {
  assert.deepEqual(methodReadings('POST', '/x?_method=put', headerBag([['x-http-method-override', ' delete , ,PATCH']])), ['POST', 'DELETE', 'PATCH', 'PUT']);
});
