import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { findCookie } from '../../src/request/cookies';

const NAME = 'ory_kratos_session';

describe('findCookie', () => {
  const cases: ReadonlyArray<{ name: string; lines: string[]; expected: string | undefined }> = [
    { name: 'single cookie', lines: ['ory_kratos_session=abc'], expected: 'abc' },
    { name: '"; "-separated (HTTP/2 crumbs rejoined by Envoy)', lines: ['a=1; ory_kratos_session=abc; b=2'], expected: 'abc' },
    { name: '";" without space', lines: ['a=1;ory_kratos_session=abc;b=2'], expected: 'abc' },
    { name: '","-joined HTTP/1 lines in the headers map', lines: ['a=1,ory_kratos_session=abc,b=2'], expected: 'abc' },
    { name: 'mixed ";" and ","', lines: ['a=1; c=3,ory_kratos_session=abc; b=2'], expected: 'abc' },
    { name: 'in the second of several lines (header_map encoding)', lines: ['a=1; b=2', 'c=3; ory_kratos_session=abc'], expected: 'abc' },
    { name: 'surrounding whitespace around name and value', lines: ['a=1 ;   ory_kratos_session  =  abc  ; b=2'], expected: 'abc' },
    { name: 'tabs around the pair', lines: ['a=1;\tory_kratos_session=abc\t;b=2'], expected: 'abc' },
    { name: 'double-quoted value is unquoted', lines: ['ory_kratos_session="abc"'], expected: 'abc' },
    { name: 'a lone double quote is kept', lines: ['ory_kratos_session="'], expected: '"' },
    { name: 'only an opening quote is kept', lines: ['ory_kratos_session="abc'], expected: '"abc' },
    { name: 'value containing "=" (base64 padding) is kept whole', lines: ['ory_kratos_session=MTY4==; b=2'], expected: 'MTY4==' },
    { name: 'duplicates in one line: first wins', lines: ['ory_kratos_session=first; ory_kratos_session=second'], expected: 'first' },
    { name: 'duplicates across lines: first line wins', lines: ['ory_kratos_session=first', 'ory_kratos_session=second'], expected: 'first' },
    { name: 'empty value counts as absent', lines: ['a=1; ory_kratos_session=; b=2'], expected: undefined },
    { name: 'an empty value is skipped for a later non-empty one (Kratos tries the next)', lines: ['ory_kratos_session=; ory_kratos_session=real'], expected: 'real' },
    { name: 'empty quoted value counts as absent', lines: ['ory_kratos_session=""'], expected: undefined },
    { name: 'name with a prefix is not the cookie', lines: ['xory_kratos_session=evil'], expected: undefined },
    { name: 'name with a suffix is not the cookie', lines: ['ory_kratos_session_x=evil'], expected: undefined },
    { name: 'prefixed/suffixed names before the real one are skipped', lines: ['xory_kratos_session=1; ory_kratos_session_x=2; ory_kratos_session=real'], expected: 'real' },
    { name: 'name only appearing inside another value', lines: ['a=ory_kratos_session; b=ory_kratos_session'], expected: undefined },
    { name: 'pair without "=" is ignored', lines: ['ory_kratos_session; b=2'], expected: undefined },
    { name: 'pair without "=" before the real one', lines: ['ory_kratos_session; ory_kratos_session=abc'], expected: 'abc' },
    { name: 'name matching is case-sensitive', lines: ['ORY_KRATOS_SESSION=abc'], expected: undefined },
    { name: 'no cookie lines', lines: [], expected: undefined },
    { name: 'empty line', lines: [''], expected: undefined },
    { name: 'only other cookies', lines: ['a=1; b=2', 'c=3'], expected: undefined },
  ];
  for (const { name, lines, expected } of cases) {
    test(name, () => {
      assert.equal(findCookie(lines, NAME), expected);
    });
  }

  test('a configured custom cookie name is honoured, the default one ignored', () => {
    assert.equal(findCookie(['ory_kratos_session=default; my_session=custom'], 'my_session'), 'custom');
    assert.equal(findCookie(['ory_kratos_session=default'], 'my_session'), undefined);
  });

  test('names are compared whole even when they contain regex-special characters', () => {
    assert.equal(findCookie(['a.b=wrong; a+b=wrong; a.b+c=right'], 'a.b+c'), 'right');
    assert.equal(findCookie(['aXb=wrong'], 'a.b'), undefined);
  });
});
