import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { answer } from '../../../src/answer/answer';
import { JoinedHeaders } from '../../../src/request/headers';
import {
  credentialsAsStated,
  credentialsToRemove,
  credentialsToSet,
  upstreamCredentialsReader,
} from '../../../src/upstream/upstream-credentials';
import { headerBag, requestView } from '../support/request';

const read = upstreamCredentialsReader('ory_kratos_session');
const strip = (lines: ReadonlyArray<readonly [string, string]>) => read(headerBag(lines), true);

describe('upstreamCredentialsReader: which Authorization is the Kratos credential', () => {
  // Kratos reads X-Session-Token, then the session cookie, then Authorization: Bearer.
  const cases: ReadonlyArray<{ name: string; lines: Array<[string, string]>; removed: boolean }> = [
    { name: 'a Bearer alone', lines: [['authorization', 'Bearer tok']], removed: true },
    {
      name: 'a Bearer beside other cookies',
      lines: [
        ['cookie', 'a=1'],
        ['authorization', 'bearer tok'],
      ],
      removed: true,
    },
    {
      name: 'a Bearer behind an empty X-Session-Token (Kratos skips an empty one)',
      lines: [
        ['x-session-token', ''],
        ['authorization', 'Bearer tok'],
      ],
      removed: true,
    },
    {
      name: 'a Bearer behind X-Session-Token: never read by Kratos',
      lines: [
        ['x-session-token', 'tok'],
        ['authorization', 'Bearer app'],
      ],
      removed: false,
    },
    {
      name: 'a Bearer behind the session cookie: never read by Kratos',
      lines: [
        ['cookie', 'ory_kratos_session=c'],
        ['authorization', 'Bearer app'],
      ],
      removed: false,
    },
    { name: 'Basic credentials', lines: [['authorization', 'Basic dTpw']], removed: false },
    {
      name: '"Bearer  x" (two spaces): Kratos reads no token',
      lines: [['authorization', 'Bearer  x']],
      removed: false,
    },
  ];
  for (const { name, lines, removed } of cases) {
    test(name, () => {
      assert.equal(credentialsToRemove(strip(lines)).includes('authorization'), removed);
    });
  }
});

describe('upstreamCredentialsReader: fates', () => {
  test('not stripping: every credential header kept as sent, line by line', () => {
    const kept = read(
      headerBag([
        ['cookie', 'a=1'],
        ['cookie', 'ory_kratos_session=c'],
        ['x-session-token', 't'],
        ['authorization', 'Bearer t'],
      ]),
      false,
    );
    assert.deepEqual(credentialsToSet(kept), []);
    assert.deepEqual(credentialsToRemove(kept), []);
    assert.deepEqual(credentialsAsStated(kept), [
      ['cookie', 'a=1; ory_kratos_session=c'],
      ['x-session-token', 't'],
      ['authorization', 'Bearer t'],
    ]);
  });

  test('stripping: the cookie rest replaces the lines, the token is removed, nothing absent is named', () => {
    const fates = strip([
      ['cookie', 'a=1; ory_kratos_session=c'],
      ['x-session-token', 't'],
    ]);
    assert.deepEqual(credentialsToSet(fates), [['cookie', 'a=1']]);
    assert.deepEqual(credentialsToRemove(fates), ['x-session-token']);
    assert.deepEqual(credentialsAsStated(fates), [['cookie', 'a=1']]);
  });

  test("Envoy's joined headers map: the first X-Session-Token line decides which Authorization is read", () => {
    const fates = read(new JoinedHeaders({ 'x-session-token': ',second', authorization: 'Bearer tok' }), true);
    // Go's Header.Get sees "" first: Kratos skips it and reads the Bearer.
    assert.deepEqual(credentialsToRemove(fates), ['x-session-token', 'authorization']);
  });
});

describe('answer: upstream_jwt.header authorization owns the Authorization header', () => {
  const settings = { browserUrl: 'https://auth.example.com', allowedHosts: [] };
  const view = requestView({ headers: [['authorization', 'Bearer tok']] });
  const credentials = read(view.headers, true);

  test('on an allow without a session it is withheld (removed) once, not also as a credential', () => {
    const allowed = answer(
      { kind: 'allow', reason: 'anonymous', subject: null, stripCredentials: true, credential: 'none', policy: 'p' },
      view,
      settings,
      { headers: [], withheld: ['authorization'] },
      credentials,
    );
    assert.ok(allowed.kind === 'allow');
    assert.deepEqual(allowed.upstreamCredentials, []);
    assert.ok(allowed.withheld.includes('authorization'));
  });

  test("without upstream_jwt in authorization, the Bearer is the credential's to strip", () => {
    const allowed = answer(
      { kind: 'allow', reason: 'anonymous', subject: null, stripCredentials: true, credential: 'none', policy: 'p' },
      view,
      settings,
      undefined,
      credentials,
    );
    assert.ok(allowed.kind === 'allow');
    assert.deepEqual(allowed.upstreamCredentials, [{ name: 'authorization', fate: 'removed' }]);
  });
});
