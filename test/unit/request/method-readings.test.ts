import assert from 'node:assert/strict';
import { test } from 'node:test';
import { methodReadings } from '../../../src/request/method';
import { describeWork, workOf } from '../support/bounded-work';
import { headerBag } from '../support/request';

const ONE_MIB = 1024 * 1024;

test('an override header of a million commas is scanned, not split into a million pieces', () => {
  let readings: readonly string[] | undefined;
  const work = workOf(
    () => (readings = methodReadings('POST', '/x', headerBag([['x-http-method-override', ','.repeat(ONE_MIB)]]))),
  );
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
  assert.deepEqual(
    methodReadings('POST', '/x?_method=put', headerBag([['x-http-method-override', ' delete , ,PATCH']])),
    ['POST', 'DELETE', 'PATCH', 'PUT'],
  );
});

// Found by an adversarial review through the real proxies: each reached an app that honours it
// (Express's method-override reads querystring.parse, PHP folds parameter and header names).
test("_method written with escapes or in PHP's folded spellings is a reading too", () => {
  for (const query of [
    '_%6Dethod=DELETE',
    '%5F%6D%65%74%68%6F%64=DELETE',
    '.method=DELETE',
    '+method=DELETE',
    '%20method=DELETE',
    '[method=DELETE',
    '_METHOD=delete',
    'a=1#&_method=DELETE',
  ]) {
    assert.deepEqual(methodReadings('POST', `/posts/1?${query}`, headerBag([])), ['POST', 'DELETE'], query);
  }
});

test('a parameter merely named method is no override', () => {
  assert.deepEqual(methodReadings('POST', '/pay?method=card&payment_method=x', headerBag([])), ['POST']);
});

test('every "-"/"_"/"." spelling of an override header is read, as CGI-style upstreams fold them into one', () => {
  for (const name of [
    'X.HTTP.Method.Override',
    'X_HTTP_Method_Override',
    'X-HTTP.Method_Override',
    'x_method.override',
    'X.HTTP.Method',
  ]) {
    assert.deepEqual(methodReadings('POST', '/posts/1', headerBag([[name, 'DELETE']])), ['POST', 'DELETE'], name);
  }
});
