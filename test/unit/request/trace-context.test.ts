import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { TraceFlags } from '@opentelemetry/api';
import { readTraceContext } from '../../../src/request/caller-trace-context';
import { NO_TRACE_HEADERS } from '../../../src/request/trace-context';

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const SPAN = '00f067aa0ba902b7';
const OTHER_TRACE = 'a3ce929d0e0e47364bf92f3577b34da6';
const OTHER_SPAN = 'e457b5a2e4d86bd1';

const read = (headers: Record<string, string | string[]>) => readTraceContext({ headers });

describe('readTraceContext', () => {
  test('W3C traceparent, with the empty tracestate Envoy sends', () => {
    const context = read({ traceparent: `00-${TRACE}-${SPAN}-01`, tracestate: '' });
    assert.deepEqual(
      [context?.traceId, context?.spanId, context?.traceFlags, context?.isRemote],
      [TRACE, SPAN, TraceFlags.SAMPLED, true],
    );
    assert.equal(context?.traceState, undefined);
  });

  test('a tracestate is kept', () => {
    assert.equal(
      read({ traceparent: `00-${TRACE}-${SPAN}-01`, tracestate: 'vendor=opaque' })?.traceState?.get('vendor'),
      'opaque',
    );
  });

  test('unsampled stays unsampled', () => {
    assert.equal(read({ traceparent: `00-${TRACE}-${SPAN}-00` })?.traceFlags, TraceFlags.NONE);
  });

  test("B3 multi-header and single-header (Envoy's Zipkin tracer)", () => {
    const multi = read({
      'x-b3-traceid': TRACE,
      'x-b3-spanid': SPAN,
      'x-b3-parentspanid': OTHER_SPAN,
      'x-b3-sampled': '1',
    });
    assert.deepEqual([multi?.traceId, multi?.spanId, multi?.traceFlags], [TRACE, SPAN, TraceFlags.SAMPLED]);
    const single = read({ b3: `${TRACE}-${SPAN}-0` });
    assert.deepEqual([single?.traceId, single?.spanId, single?.traceFlags], [TRACE, SPAN, TraceFlags.NONE]);
  });

  test('W3C wins over B3 when both came', () => {
    assert.equal(read({ traceparent: `00-${TRACE}-${SPAN}-01`, b3: `${OTHER_TRACE}-${OTHER_SPAN}-1` })?.traceId, TRACE);
  });

  test('an invalid traceparent falls back to B3, and to nothing without one', () => {
    assert.equal(
      read({ traceparent: `00-${'0'.repeat(32)}-${SPAN}-01`, b3: `${OTHER_TRACE}-${OTHER_SPAN}-1` })?.traceId,
      OTHER_TRACE,
    );
    for (const traceparent of [
      `00-${'0'.repeat(32)}-${SPAN}-01`,
      `00-${TRACE}-${'0'.repeat(16)}-01`,
      `ff-${TRACE}-${SPAN}-01`,
      'garbage',
      '',
    ]) {
      assert.equal(read({ traceparent }), undefined, traceparent);
    }
  });

  test('no headers: no context', () => {
    assert.equal(readTraceContext(NO_TRACE_HEADERS), undefined);
    assert.equal(read({}), undefined);
  });

  test('a repeated header counts by its first value', () => {
    assert.equal(
      read({ traceparent: [`00-${TRACE}-${SPAN}-01`, `00-${OTHER_TRACE}-${OTHER_SPAN}-01`] })?.traceId,
      TRACE,
    );
  });

  test("the carrier's headers are only fetched when a header is read", () => {
    let fetched = 0;
    const carrier = {
      get headers() {
        fetched++;
        return {};
      },
    };
    assert.equal(fetched, 0);
    readTraceContext(carrier);
    assert.ok(fetched > 0);
  });
});
