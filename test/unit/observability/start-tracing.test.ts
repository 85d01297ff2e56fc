import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { parseConfig } from '../../../src/config/load';
import { createLogger } from '../../../src/observability/logger';
import { startTracing } from '../../../src/observability/start-tracing';
import { NO_TRACING } from '../../../src/observability/tracing';

function quietLogger(lines: string[]) {
  return createLogger(
    { level: 'info', pretty: false },
    new Writable({ write: (chunk: Buffer, _encoding, done) => (lines.push(chunk.toString('utf8')), done()) }),
  );
}

describe('startTracing', () => {
  test('off by default: the shared inert tracing', () => {
    assert.equal(startTracing(parseConfig({}, {}).tracing, quietLogger([]), {}), NO_TRACING);
  });

  test('OTEL_SDK_DISABLED=true overrides tracing.enabled, with a warning', () => {
    const lines: string[] = [];
    assert.equal(
      startTracing(parseConfig({ tracing: { enabled: true } }, {}).tracing, quietLogger(lines), {
        OTEL_SDK_DISABLED: 'TRUE',
      }),
      NO_TRACING,
    );
    assert.match(lines.join(''), /OTEL_SDK_DISABLED/);
  });

  test('enabled: an OpenTelemetry tracing that says where it exports', async () => {
    const lines: string[] = [];
    const tracing = startTracing(
      parseConfig({ tracing: { enabled: true, endpoint: 'http://127.0.0.1:9/' } }, {}).tracing,
      quietLogger(lines),
      { OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' },
    );
    assert.notEqual(tracing, NO_TRACING);
    await tracing.shutdown();
    assert.match(lines.join(''), /"endpoint":"http:\/\/127\.0\.0\.1:9"/);
    assert.match(lines.join(''), /only OTLP over http\/protobuf/);
  });
});

describe('tracing config', () => {
  test('sampling_ratio is a share between 0 and 1; the endpoint an http(s) URL without credentials', () => {
    assert.throws(() => parseConfig({ tracing: { sampling_ratio: 1.5 } }, {}), /tracing\.sampling_ratio/);
    assert.throws(() => parseConfig({ tracing: { endpoint: 'collector:4318' } }, {}), /tracing\.endpoint/);
    assert.throws(
      () => parseConfig({ tracing: { endpoint: 'http://user:secret@collector:4318' } }, {}),
      /tracing\.endpoint/,
    );
    assert.throws(() => parseConfig({ tracing: { sample: 1 } }, {}), /tracing/);
  });
});
