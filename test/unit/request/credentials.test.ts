import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  bearerToken,
  firstOf,
  kratosCredentialExtractor,
  sessionCookie,
  sessionTokenHeader,
  type Credential,
} from '../../../src/request/credentials';
import { JoinedHeaders } from '../../../src/request/headers';
import { describeWork, EIGHT_MIB, workOf } from '../support/bounded-work';
import { headerBag } from '../support/request';

type Lines = ReadonlyArray<readonly [string, string]>;

const extract = kratosCredentialExtractor('ory_kratos_session');

describe('sessionTokenHeader', () => {
  test('reads X-Session-Token whatever the case of the header name', () => {
    assert.deepEqual(sessionTokenHeader(headerBag([['X-Session-Token', 'ory_st_abc']])), {
      kind: 'token',
      source: 'x-session-token',
      value: 'ory_st_abc',
      wellFormed: true,
    });
  });

  test('an empty X-Session-Token is no credential (Kratos requires it non-empty)', () => {
    assert.equal(sessionTokenHeader(headerBag([['x-session-token', '']])), undefined);
  });

  test('absent header', () => {
    assert.equal(sessionTokenHeader(headerBag([['authorization', 'Bearer x']])), undefined);
  });

  test('with two header lines the first is used', () => {
    assert.equal(
      sessionTokenHeader(
        headerBag([
          ['x-session-token', 'first'],
          ['x-session-token', 'second'],
        ]),
      )?.value,
      'first',
    );
  });

  test('two lines joined by Envoy ("a,b"): the first value, as Go\'s Header.Get reads it', () => {
    assert.equal(sessionTokenHeader(new JoinedHeaders({ 'x-session-token': 'first,second' }))?.value, 'first');
    assert.equal(
      sessionTokenHeader(new JoinedHeaders({ 'x-session-token': ',second' })),
      undefined,
      'an empty first line is no token',
    );
  });

  test('one raw line with a comma is taken whole (Kratos would look it up whole and refuse it)', () => {
    assert.equal(sessionTokenHeader(headerBag([['x-session-token', 'first,second']]))?.value, 'first,second');
  });
});

describe('sessionCookie', () => {
  test('finds the named cookie among others', () => {
    assert.deepEqual(
      sessionCookie('ory_kratos_session')(headerBag([['cookie', 'a=1; ory_kratos_session=MTY4; b=2']])),
      {
        kind: 'cookie',
        source: 'cookie',
        value: 'ory_kratos_session=MTY4',
        wellFormed: true,
      },
    );
  });

  test('reads every cookie line', () => {
    assert.equal(
      sessionCookie('ory_kratos_session')(
        headerBag([
          ['cookie', 'a=1'],
          ['Cookie', 'ory_kratos_session=v'],
        ]),
      )?.value,
      'ory_kratos_session=v',
    );
  });

  test('uses the configured name', () => {
    const bag = headerBag([['cookie', 'ory_kratos_session=default; custom=mine']]);
    assert.equal(sessionCookie('custom')(bag)?.value, 'custom=mine');
  });

  test('every cookie of that name is forwarded, in order, and only those (Kratos takes the first that decodes)', () => {
    const bag = headerBag([
      ['cookie', 'ory_kratos_session=stale-parent; app=1'],
      ['cookie', 'ory_kratos_session=; ory_kratos_session="valid"'],
    ]);
    assert.deepEqual(sessionCookie('ory_kratos_session')(bag), {
      kind: 'cookie',
      source: 'cookie',
      value: 'ory_kratos_session=stale-parent; ory_kratos_session=valid',
      wellFormed: true,
    });
  });

  test('one value among several that Kratos cannot decode makes the cookie ill-formed', () => {
    const bag = headerBag([['cookie', 'ory_kratos_session=ok; ory_kratos_session=a b']]);
    assert.equal(sessionCookie('ory_kratos_session')(bag)?.wellFormed, false);
  });

  test('more session cookies than a browser would hold are ill-formed', () => {
    const lines = Array.from({ length: 9 }, (_, i) => ['cookie', `ory_kratos_session=v${i}`] as const);
    assert.equal(sessionCookie('ory_kratos_session')(headerBag(lines))?.wellFormed, false);
    assert.equal(sessionCookie('ory_kratos_session')(headerBag(lines.slice(0, 8)))?.wellFormed, true);
  });

  test('a raw header line is split on ";" only; Envoy-joined lines on "," too', () => {
    const line = 'tossed=x,ory_kratos_session=A; ory_kratos_session=V';
    assert.equal(sessionCookie('ory_kratos_session')(headerBag([['cookie', line]]))?.value, 'ory_kratos_session=V');
    assert.equal(
      sessionCookie('ory_kratos_session')(new JoinedHeaders({ cookie: line }))?.value,
      'ory_kratos_session=A; ory_kratos_session=V',
    );
  });

  test('an empty cookie value counts as absent', () => {
    assert.equal(sessionCookie('ory_kratos_session')(headerBag([['cookie', 'ory_kratos_session=']])), undefined);
  });

  test('no cookie header', () => {
    assert.equal(sessionCookie('ory_kratos_session')(headerBag()), undefined);
  });
});

describe('bearerToken (Kratos bearerTokenFromRequest: split on single spaces, exactly two parts)', () => {
  // Found by test/fuzz/credentials.test.ts: "Bearer a" then "Bearer" joined by Envoy read as the token "a,Bearer".
  test("two Authorization lines joined in the headers map: the first line's token, as Go's Header.Get reads it", () => {
    assert.equal(bearerToken(new JoinedHeaders({ authorization: 'Bearer a,Bearer' }))?.value, 'a');
    assert.equal(bearerToken(new JoinedHeaders({ authorization: 'Basic x,Bearer b' })), undefined);
  });

  const cases: ReadonlyArray<{ header: string; expected: string | undefined }> = [
    { header: 'Bearer ory_st_abc', expected: 'ory_st_abc' },
    { header: 'bearer ory_st_abc', expected: 'ory_st_abc' },
    { header: 'BEARER ory_st_abc', expected: 'ory_st_abc' },
    { header: 'BeArEr ory_st_abc', expected: 'ory_st_abc' },
    { header: 'Bearer  ory_st_abc', expected: undefined },
    { header: 'Bearer a b', expected: undefined },
    { header: 'Bearer ', expected: undefined },
    { header: 'Bearer', expected: undefined },
    { header: 'Bearer\tory_st_abc', expected: undefined },
    { header: 'Basic dXNlcjpwYXNz', expected: undefined },
    { header: 'Token ory_st_abc', expected: undefined },
    { header: 'ory_st_abc', expected: undefined },
    { header: '', expected: undefined },
  ];
  for (const { header, expected } of cases) {
    test(`${JSON.stringify(header)} → ${expected === undefined ? 'no token' : JSON.stringify(expected)}`, () => {
      const found = bearerToken(headerBag([['authorization', header]]));
      assert.equal(found?.value, expected);
      if (found) {
        assert.equal(found.kind, 'token');
        assert.equal(found.source, 'authorization');
      }
    });
  }

  // Finding 1 of issue 18: "Bearer" and 7.9 M spaces was split into millions of empty strings.
  for (const header of [
    'Bearer'.padEnd(EIGHT_MIB, ' '),
    'Bearer x'.padEnd(EIGHT_MIB, ' '),
    'Bearer '.padEnd(EIGHT_MIB, 'x'),
  ]) {
    test(`an 8 MiB Authorization header (${JSON.stringify(header.slice(0, 9))}…) is read without splitting it`, () => {
      let found: Credential | undefined;
      const work = workOf(() => (found = bearerToken(headerBag([['authorization', header]]))));
      // No token from the spaces; the 8 MiB token is found, and is too long to be a Kratos one.
      assert.equal(found?.wellFormed, header.endsWith('x') ? false : undefined);
      assert.ok(work.allocatedMiB < 24 && work.ms < 1000, describeWork(work));
    });
  }

  test('absent Authorization header', () => {
    assert.equal(bearerToken(headerBag()), undefined);
  });
});

describe('kratosCredentialExtractor precedence: X-Session-Token > cookie > Authorization: Bearer', () => {
  const cases: ReadonlyArray<{
    name: string;
    lines: Lines;
    expected: Pick<Credential, 'kind' | 'source' | 'value'> | undefined;
  }> = [
    {
      name: 'all three: X-Session-Token wins',
      lines: [
        ['authorization', 'Bearer bearer-token'],
        ['cookie', 'ory_kratos_session=cookie-value'],
        ['x-session-token', 'header-token'],
      ],
      expected: { kind: 'token', source: 'x-session-token', value: 'header-token' },
    },
    {
      name: 'cookie and bearer: cookie wins',
      lines: [
        ['authorization', 'Bearer bearer-token'],
        ['cookie', 'ory_kratos_session=cookie-value'],
      ],
      expected: { kind: 'cookie', source: 'cookie', value: 'ory_kratos_session=cookie-value' },
    },
    {
      name: 'bearer alone',
      lines: [['authorization', 'Bearer bearer-token']],
      expected: { kind: 'token', source: 'authorization', value: 'bearer-token' },
    },
    {
      name: 'empty X-Session-Token is skipped for the cookie',
      lines: [
        ['x-session-token', ''],
        ['cookie', 'ory_kratos_session=cookie-value'],
      ],
      expected: { kind: 'cookie', source: 'cookie', value: 'ory_kratos_session=cookie-value' },
    },
    {
      name: 'empty X-Session-Token is skipped for the bearer',
      lines: [
        ['x-session-token', ''],
        ['authorization', 'Bearer bearer-token'],
      ],
      expected: { kind: 'token', source: 'authorization', value: 'bearer-token' },
    },
    {
      name: 'empty session cookie falls through to the bearer',
      lines: [
        ['cookie', 'ory_kratos_session='],
        ['authorization', 'Bearer bearer-token'],
      ],
      expected: { kind: 'token', source: 'authorization', value: 'bearer-token' },
    },
    {
      name: 'other cookies only: falls through to the bearer',
      lines: [
        ['cookie', 'xory_kratos_session=x; ory_kratos_session_x=y'],
        ['authorization', 'Bearer bearer-token'],
      ],
      expected: { kind: 'token', source: 'authorization', value: 'bearer-token' },
    },
    {
      name: 'malformed X-Session-Token still wins (Kratos does not fall back either)',
      lines: [
        ['x-session-token', 'has space'],
        ['cookie', 'ory_kratos_session=cookie-value'],
      ],
      expected: { kind: 'token', source: 'x-session-token', value: 'has space' },
    },
    { name: 'Bearer with two spaces: nothing', lines: [['authorization', 'Bearer  x']], expected: undefined },
    { name: 'Basic: nothing', lines: [['authorization', 'Basic x']], expected: undefined },
    { name: 'Bearer with empty token: nothing', lines: [['authorization', 'Bearer ']], expected: undefined },
    {
      name: 'lower-case bearer works',
      lines: [['authorization', 'bearer x']],
      expected: { kind: 'token', source: 'authorization', value: 'x' },
    },
    { name: 'no headers at all', lines: [], expected: undefined },
  ];
  for (const { name, lines, expected } of cases) {
    test(name, () => {
      const found = extract(headerBag(lines));
      assert.deepEqual(found && { kind: found.kind, source: found.source, value: found.value }, expected);
    });
  }

  test('custom cookie name', () => {
    const found = kratosCredentialExtractor('my_session')(
      headerBag([['cookie', 'ory_kratos_session=a; my_session=b']]),
    );
    assert.equal(found?.value, 'my_session=b');
  });
});

describe('firstOf', () => {
  test('keeps the first extractor that finds something, in the given order', () => {
    const bag = headerBag([
      ['authorization', 'Bearer b'],
      ['x-session-token', 't'],
    ]);
    assert.equal(firstOf(bearerToken, sessionTokenHeader)(bag)?.source, 'authorization');
    assert.equal(firstOf(sessionTokenHeader, bearerToken)(bag)?.source, 'x-session-token');
  });

  test('no extractors, or none finding anything: undefined', () => {
    assert.equal(firstOf()(headerBag([['x-session-token', 't']])), undefined);
    assert.equal(firstOf(sessionTokenHeader, bearerToken)(headerBag([['cookie', 'a=b']])), undefined);
  });
});

describe('wellFormed', () => {
  const wellFormedOf = (value: string): boolean | undefined =>
    sessionTokenHeader(headerBag([['x-session-token', value]]))?.wellFormed;

  const cases: ReadonlyArray<{ name: string; value: string; expected: boolean }> = [
    { name: 'a Kratos session token', value: 'ory_st_Zm9vYmFyYmF6cXV4cXV1eGNvcmdlZ3JhdWx0', expected: true },
    {
      name: 'every visible ASCII character',
      value: Array.from({ length: 0x7e - 0x21 + 1 }, (_, i) => String.fromCharCode(0x21 + i)).join(''),
      expected: true,
    },
    { name: 'exactly 4096 characters', value: 'a'.repeat(4096), expected: true },
    { name: '4097 characters', value: 'a'.repeat(4097), expected: false },
    { name: 'a space inside', value: 'ory_st_a b', expected: false },
    { name: 'a tab inside', value: 'ory_st_a\tb', expected: false },
    { name: 'NUL', value: 'ory_st_\u0000', expected: false },
    { name: 'CR LF (header injection)', value: 'ory_st_a\r\nx-evil: 1', expected: false },
    { name: 'DEL', value: 'ory_st_\u007f', expected: false },
    { name: 'latin-1 ÿ (raw header byte 0xff)', value: 'ory_st_\u00ff', expected: false },
    { name: 'non-ASCII letter', value: 'ory_st_é', expected: false },
    { name: 'emoji', value: 'ory_st_\u{1f600}', expected: false },
    { name: 'U+FFFD (Envoy-sanitised byte)', value: 'ory_st_\ufffd', expected: false },
  ];
  for (const { name, value, expected } of cases) {
    test(`${name} → ${expected}`, () => {
      assert.equal(wellFormedOf(value), expected);
    });
  }

  test('applies to cookies and bearer tokens too', () => {
    assert.equal(sessionCookie('s')(headerBag([['cookie', 's=x y']]))?.wellFormed, false);
    assert.equal(sessionCookie('s')(headerBag([['cookie', `s=${'a'.repeat(4097)}`]]))?.wellFormed, false);
    assert.equal(sessionCookie('s')(headerBag([['cookie', 's=ok']]))?.wellFormed, true);
    assert.equal(bearerToken(headerBag([['authorization', 'Bearer \u0000']]))?.wellFormed, false);
    assert.equal(bearerToken(headerBag([['authorization', 'Bearer ok']]))?.wellFormed, true);
  });

  // Found by test/fuzz/credentials.test.ts: Go's cookie reader drops such a value, so Kratos
  // goes on to the Bearer token; the service answered 401 from the cookie.
  test('a session cookie whose value Go refuses is no credential: Kratos reads the Bearer token', () => {
    const found = extract(
      headerBag([
        ['cookie', 'ory_kratos_session=\u0001'],
        ['authorization', 'Bearer good'],
      ]),
    );
    assert.deepEqual([found?.source, found?.value], ['authorization', 'good']);
  });

  test('a malformed credential is still returned (so it is not silently replaced by a lower-precedence one)', () => {
    const found = extract(
      headerBag([
        ['x-session-token', '\u00ff'],
        ['authorization', 'Bearer good'],
      ]),
    );
    assert.equal(found?.source, 'x-session-token');
    assert.equal(found?.wellFormed, false);
  });
});
