import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseConfig } from '../../../src/config/load';
import { compilePolicy, selectRule } from '../../../src/policy/policy';
import { traceSelection } from '../../../src/policy/rule-trace';
import { formatDuration } from '../../../src/cli/effective-config';
import { parseDuration } from '../../../src/config/duration';
import { requestView } from '../support/request';

const config = parseConfig(
  {
    policy: {
      rules: [
        { name: 'public', paths: ['/', '/assets/*'], anonymous: true },
        { name: 'admin', hosts: ['admin.example.com'], methods: ['GET'], cookie: 'aal2' },
        { name: 'writes', methods: ['POST', 'PUT'], paths: ['/api/*'], token: 'aal2' },
        { name: 'internal', paths: ['/internal/*'], deny: true },
      ],
    },
  },
  {},
).policy;
const policy = compilePolicy(config);

describe('traceSelection', () => {
  // Paths chosen to read differently (dots, escapes, case) and methods/hosts to miss each rule.
  const requests = [
    { path: '/', method: 'GET', authority: 'app.example.com' },
    { path: '/assets/x.js', method: 'HEAD', authority: 'admin.example.com' },
    { path: '/users', method: 'HEAD', authority: 'admin.example.com' },
    { path: '/users', method: 'POST', authority: 'admin.example.com' },
    { path: '/api/x', method: 'PUT', authority: 'app.example.com' },
    { path: '/API/x', method: 'PUT', authority: 'app.example.com' },
    { path: '/assets/../internal/x', method: 'GET', authority: 'app.example.com' },
    { path: '/assets/%2e%2e/internal/x', method: 'GET', authority: 'app.example.com' },
    { path: '/INTERNAL/x', method: 'GET', authority: 'app.example.com' },
    { path: '/elsewhere', method: 'DELETE', authority: 'app.example.com' },
  ];

  for (const request of requests) {
    test(`agrees with selectRule: ${request.method} ${request.authority}${request.path}`, () => {
      const view = requestView(request);
      const selection = selectRule(policy, view);
      const trace = traceSelection(config, policy, view);
      assert.equal(trace.kind, 'matched');
      if (trace.kind !== 'matched') return;
      const chosen = new Set(trace.readings.map((reading) => reading.rule));
      if (selection.kind === 'ambiguous_path') assert.ok(chosen.size > 1, 'the readings disagree');
      else assert.deepEqual([...chosen], [selection.kind === 'rule' ? selection.rule.name : '']);
      assert.equal(trace.readings.length, view.pathReadings.length * 2, 'each reading as written and case-folded');
    });
  }

  test('names the conditions that failed for each earlier rule', () => {
    const trace = traceSelection(
      config,
      policy,
      requestView({ path: '/users', method: 'POST', authority: 'admin.example.com' }),
    );
    assert.equal(trace.kind, 'matched');
    if (trace.kind !== 'matched') return;
    assert.deepEqual(trace.readings[0], {
      path: '/users',
      method: 'POST',
      folded: false,
      rule: 'default',
      skipped: [
        { rule: 'public', failed: ['paths'] },
        { rule: 'admin', failed: ['methods'] },
        { rule: 'writes', failed: ['paths'] },
        { rule: 'internal', failed: ['paths'] },
      ],
    });
  });

  test('a route-named policy is reported as such, without matching', () => {
    assert.deepEqual(traceSelection(config, policy, requestView({ contextExtensions: { policy: 'admin' } })), {
      kind: 'named',
      name: 'admin',
    });
  });
});

describe('formatDuration', () => {
  test('round-trips through parseDuration in the largest whole unit', () => {
    for (const [ms, text] of [
      [0, '0s'],
      [150, '150ms'],
      [1500, '1500ms'],
      [2000, '2s'],
      [60_000, '1m'],
      [90_000, '90s'],
      [7_200_000, '2h'],
    ] as const) {
      assert.equal(formatDuration(ms), text);
      assert.equal(parseDuration(text), ms);
    }
  });
});
