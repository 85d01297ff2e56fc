import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { cookiesWithout, findCookies } from '../../../src/request/cookies';
import { describeWork, EIGHT_MIB, workOf } from '../support/bounded-work';

const NAME = 'ory_kratos_session';

describe('findCookies', () => {
  // `expected`: the values in order; a string is shorthand for exactly one.
  const cases: ReadonlyArray<{ name: string; lines: string[]; expected: string | string[] | undefined; raw?: true }> = [
    { name: 'single cookie', lines: ['ory_kratos_session=abc'], expected: 'abc' },
    {
      name: '"; "-separated (HTTP/2 crumbs rejoined by Envoy)',
      lines: ['a=1; ory_kratos_session=abc; b=2'],
      expected: 'abc',
    },
    { name: '";" without space', lines: ['a=1;ory_kratos_session=abc;b=2'], expected: 'abc' },
    { name: '","-joined HTTP/1 lines in the headers map', lines: ['a=1,ory_kratos_session=abc,b=2'], expected: 'abc' },
    { name: 'mixed ";" and ","', lines: ['a=1; c=3,ory_kratos_session=abc; b=2'], expected: 'abc' },
    // One raw line (header_map): Go and Kratos split on ";" only, so "," stays inside a value.
    {
      name: 'raw line: "," separates nothing',
      lines: ['tossed=x,ory_kratos_session=A; ory_kratos_session=V'],
      expected: 'V',
      raw: true,
    },
    { name: 'raw line: a value with "," is kept whole', lines: ['ory_kratos_session=a,b'], expected: 'a,b', raw: true },
    {
      name: 'joined lines: the same line read with "," as a separator',
      lines: ['tossed=x,ory_kratos_session=A; ory_kratos_session=V'],
      expected: ['A', 'V'],
    },
    {
      name: 'in the second of several lines (header_map encoding)',
      lines: ['a=1; b=2', 'c=3; ory_kratos_session=abc'],
      expected: 'abc',
    },
    // Go trims the pair and the name, not what follows "=": the value Kratos tries is "  abc".
    {
      name: 'white space around the pair and the name is trimmed, after "=" it stays',
      lines: ['a=1 ;   ory_kratos_session  =  abc  ; b=2'],
      expected: '  abc',
    },
    {
      name: 'only ASCII white space is trimmed: a no-break space makes another name',
      lines: ['\u00a0ory_kratos_session=abc'],
      expected: undefined,
    },
    { name: 'tabs around the pair', lines: ['a=1;\tory_kratos_session=abc\t;b=2'], expected: 'abc' },
    { name: 'double-quoted value is unquoted', lines: ['ory_kratos_session="abc"'], expected: 'abc' },
    // Go refuses a value with `"`, `\`, a control or a non-ASCII byte: Kratos never sees it and tries the next.
    { name: 'a lone double quote: refused', lines: ['ory_kratos_session="'], expected: undefined },
    { name: 'only an opening quote: refused', lines: ['ory_kratos_session="abc'], expected: undefined },
    {
      name: 'a refused value is skipped for the next one',
      lines: [
        'ory_kratos_session=caf\u00e9; ory_kratos_session=a\\b; ory_kratos_session=\u0001; ory_kratos_session=ok',
      ],
      expected: 'ok',
    },
    {
      name: 'value containing "=" (base64 padding) is kept whole',
      lines: ['ory_kratos_session=MTY4==; b=2'],
      expected: 'MTY4==',
    },
    {
      name: 'duplicates in one line: all, in order',
      lines: ['ory_kratos_session=first; ory_kratos_session=second'],
      expected: ['first', 'second'],
    },
    {
      name: 'duplicates across lines: all, in line order',
      lines: ['ory_kratos_session=first', 'b=2; ory_kratos_session=second'],
      expected: ['first', 'second'],
    },
    { name: 'empty value counts as absent', lines: ['a=1; ory_kratos_session=; b=2'], expected: undefined },
    {
      name: 'an empty value is skipped for a later non-empty one (Kratos tries the next)',
      lines: ['ory_kratos_session=; ory_kratos_session=real'],
      expected: 'real',
    },
    { name: 'empty quoted value counts as absent', lines: ['ory_kratos_session=""'], expected: undefined },
    { name: 'name with a prefix is not the cookie', lines: ['xory_kratos_session=evil'], expected: undefined },
    { name: 'name with a suffix is not the cookie', lines: ['ory_kratos_session_x=evil'], expected: undefined },
    {
      name: 'prefixed/suffixed names before the real one are skipped',
      lines: ['xory_kratos_session=1; ory_kratos_session_x=2; ory_kratos_session=real'],
      expected: 'real',
    },
    {
      name: 'name only appearing inside another value',
      lines: ['a=ory_kratos_session; b=ory_kratos_session'],
      expected: undefined,
    },
    { name: 'pair without "=" is ignored', lines: ['ory_kratos_session; b=2'], expected: undefined },
    {
      name: 'pair without "=" before the real one',
      lines: ['ory_kratos_session; ory_kratos_session=abc'],
      expected: 'abc',
    },
    { name: 'name matching is case-sensitive', lines: ['ORY_KRATOS_SESSION=abc'], expected: undefined },
    { name: 'no cookie lines', lines: [], expected: undefined },
    { name: 'empty line', lines: [''], expected: undefined },
    { name: 'only other cookies', lines: ['a=1; b=2', 'c=3'], expected: undefined },
  ];
  for (const { name, lines, expected, raw } of cases) {
    test(name, () => {
      assert.deepEqual(findCookies(lines, NAME, !raw), expected === undefined ? [] : [expected].flat());
    });
  }

  test('a cookie line that is mostly white space is read in linear time', () => {
    const spaces = ' '.repeat(256 * 1024);
    const started = performance.now();
    // White space inside a pair is where an end-anchored trim retries every start.
    assert.deepEqual(findCookies([`a${spaces}b=1; ory_kratos_session=x${spaces}y`], NAME, true), [`x${spaces}y`]);
    // Linear is a few milliseconds; the quadratic trim this guards against took minutes.
    assert.ok(performance.now() - started < 1000, `${performance.now() - started} ms`);
  });

  // Finding 1 of issue 18: "ory_kratos_session=x" and 7.9 M ";" took 3 s and 150 MiB of heap when
  // the line was split, and four at once ended the service.
  for (const commaSeparatesLines of [true, false]) {
    test(`an 8 MiB line of ";" is scanned, not split into millions of pieces (${commaSeparatesLines ? 'joined' : 'raw'} lines)`, () => {
      const line = 'ory_kratos_session=x'.padEnd(EIGHT_MIB, ';');
      let found: string[] = [];
      const work = workOf(() => (found = findCookies([line], NAME, commaSeparatesLines)));
      assert.deepEqual(found, ['x']);
      assert.ok(work.allocatedMiB < 24 && work.ms < 1000, describeWork(work));
    });
  }

  test('an 8 MiB line of session cookies is read only up to the limit asked for', () => {
    const line = 'ory_kratos_session=x;'.repeat(EIGHT_MIB / 21);
    let found: string[] = [];
    const work = workOf(() => (found = findCookies([line], NAME, true, 9)));
    assert.deepEqual(found, Array<string>(9).fill('x'));
    assert.ok(work.allocatedMiB < 24 && work.ms < 1000, describeWork(work));
  });

  test('white space before a name and before its "=" is walked once, not once per occurrence', () => {
    const line = `${' '.repeat(EIGHT_MIB / 2)}ory_kratos_session${' '.repeat(EIGHT_MIB / 2)}=v`;
    let found: string[] = [];
    const work = workOf(() => (found = findCookies([line], NAME, true)));
    assert.deepEqual(found, ['v']);
    assert.ok(work.ms < 1000, describeWork(work));
  });

  test('a configured custom cookie name is honoured, the default one ignored', () => {
    assert.deepEqual(findCookies(['ory_kratos_session=default; my_session=custom'], 'my_session', true), ['custom']);
    assert.deepEqual(findCookies(['ory_kratos_session=default'], 'my_session', true), []);
  });

  test('names are compared whole even when they contain regex-special characters', () => {
    assert.deepEqual(findCookies(['a.b=wrong; a+b=wrong; a.b+c=right'], 'a.b+c', true), ['right']);
    assert.deepEqual(findCookies(['aXb=wrong'], 'a.b', true), []);
  });
});

describe('cookiesWithout: what the upstream gets of the Cookie header when credentials are stripped', () => {
  // `expected`: the one Cookie value the upstream gets; null: the lines are left as sent.
  const cases: ReadonlyArray<{ name: string; lines: string[]; expected: string | null; joined?: true }> = [
    { name: 'only the session cookie: nothing is left', lines: ['ory_kratos_session=abc'], expected: '' },
    {
      name: 'in the middle: the others byte for byte, with the ";" before each',
      lines: ['a=1; ory_kratos_session=abc; b=2'],
      expected: 'a=1; b=2',
    },
    {
      name: 'first: the line loses the separator and white space before the next',
      lines: ['ory_kratos_session=abc;  a=1;b=2'],
      expected: 'a=1;b=2',
    },
    { name: 'last', lines: ['a=1 ;b="x y"; ory_kratos_session=abc'], expected: 'a=1 ;b="x y"' },
    {
      name: 'unusual spacing of the kept pairs stays',
      lines: ['a = 1 ;\tory_kratos_session=abc;b=2 ;  c=3'],
      expected: 'a = 1 ;b=2 ;  c=3',
    },
    {
      name: 'several session cookies, each removed',
      lines: ['ory_kratos_session=old; a=1; ory_kratos_session=new; ory_kratos_session=x'],
      expected: 'a=1',
    },
    {
      name: 'adjacent session cookies',
      lines: ['a=1; ory_kratos_session=x; ory_kratos_session=y; b=2'],
      expected: 'a=1; b=2',
    },
    { name: 'a quoted value', lines: ['ory_kratos_session="abc"; a="q"'], expected: 'a="q"' },
    { name: 'an empty value', lines: ['a=1; ory_kratos_session=; b=2'], expected: 'a=1; b=2' },
    {
      name: 'a value Kratos would refuse is removed as well',
      lines: ['ory_kratos_session=caf\u00e9; a=1'],
      expected: 'a=1',
    },
    { name: 'a lone name without "="', lines: ['a=1; ory_kratos_session ; b=2'], expected: 'a=1; b=2' },
    {
      name: 'white space around the name, as Go trims it',
      lines: ['a=1;\t ory_kratos_session  =abc'],
      expected: 'a=1',
    },
    { name: 'empty pairs are kept', lines: ['a=1;; ory_kratos_session=abc; ;b=2'], expected: 'a=1;; ;b=2' },
    {
      name: 'names that only contain the session cookie name are kept',
      lines: ['my_ory_kratos_session=1; ory_kratos_session_x=2; ory_kratos_sessionx=3'],
      expected: null,
    },
    { name: 'a value that contains the name is kept', lines: ['a=ory_kratos_session=abc'], expected: null },
    { name: 'another case is another cookie', lines: ['ORY_KRATOS_SESSION=abc'], expected: null },
    { name: 'no session cookie: the lines stay as sent', lines: ['a=1; b=2', 'c=3'], expected: null },
    { name: 'no cookie lines', lines: [], expected: null },
    {
      name: 'several lines (header_map, HTTP/2 crumbs): joined with "; ", lines without it verbatim',
      lines: ['a=1;b=2', 'ory_kratos_session=abc', 'c=3; ory_kratos_session=x'],
      expected: 'a=1;b=2; c=3',
    },
    {
      name: 'header_map: "," inside a raw line separates nothing',
      lines: ['a=x,y; ory_kratos_session=abc'],
      expected: 'a=x,y',
    },
    { name: 'header_map: a "," pair is not a pair of its own', lines: ['a=x,ory_kratos_session=abc'], expected: null },
    {
      name: 'joined map: "," separates lines; each line rewritten alone',
      lines: ['a=1; ory_kratos_session=abc,b=2;c=3'],
      expected: 'a=1; b=2;c=3',
      joined: true,
    },
    {
      name: 'joined map: the session cookie as a line of its own',
      lines: ['a=1,ory_kratos_session=abc,b=2'],
      expected: 'a=1; b=2',
      joined: true,
    },
    {
      name: 'joined map: only session cookies',
      lines: ['ory_kratos_session=abc,ory_kratos_session=x'],
      expected: '',
      joined: true,
    },
    { name: 'joined map: no session cookie, left as sent', lines: ['a=1,b=2'], expected: null, joined: true },
  ];
  for (const { name, lines, expected, joined } of cases) {
    test(name, () => {
      assert.equal(cookiesWithout(lines, NAME, joined === true), expected);
    });
  }

  test('a line of millions of ";" and "," is rewritten in linear time', () => {
    const junk = ';'.repeat(2_000_000);
    const commas = 'a,'.repeat(1_000_000);
    const started = performance.now();
    assert.equal(cookiesWithout([`ory_kratos_session=x${junk}a=1`], NAME, false), `${junk.slice(1)}a=1`);
    assert.equal(
      cookiesWithout([`${commas};ory_kratos_session=x`], NAME, true)?.length,
      'a; '.repeat(1_000_000).length - 2,
    );
    assert.ok(performance.now() - started < 2000, `${performance.now() - started} ms`);
  });
});
