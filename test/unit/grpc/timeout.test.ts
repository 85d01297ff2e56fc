import assert from 'node:assert/strict';
import { test } from 'node:test';
import { encodeGrpcMessage } from '../../../src/grpc/status';
import { parseGrpcTimeout } from '../../../src/grpc/timeout';

test('grpc-timeout: every unit of PROTOCOL-HTTP2.md, in milliseconds', () => {
  const cases: Array<[string, number]> = [
    ['2H', 7_200_000],
    ['3M', 180_000],
    ['4S', 4_000],
    ['5m', 5],
    ['6000u', 6],
    ['7000000n', 7],
    ['99999999S', 99_999_999_000],
    ['0m', 0],
  ];
  for (const [value, ms] of cases) assert.deepEqual(parseGrpcTimeout(value), { ok: true, ms }, value);
});

test('grpc-timeout: none is no deadline; anything else malformed is refused', () => {
  assert.deepEqual(parseGrpcTimeout(undefined), { ok: true, ms: Infinity });
  for (const value of ['', 'S', '1', '1s', '1h', '123456789m', '-1S', '+1S', ' 1S', '1S ', '1.0S', '0x1S', '１S']) {
    assert.deepEqual(parseGrpcTimeout(value), { ok: false }, JSON.stringify(value));
  }
});

test('grpc-message: printable ASCII but "%" stays, the rest is percent-encoded', () => {
  assert.equal(encodeGrpcMessage('a plain detail: /x.Y/Z is not served'), 'a plain detail: /x.Y/Z is not served');
  assert.equal(decodeURIComponent(encodeGrpcMessage('50% of\r\nit — ü')), '50% of\r\nit — ü');
  assert.doesNotMatch(encodeGrpcMessage('50% of\r\nit'), /[\r\n]|% /);
});
