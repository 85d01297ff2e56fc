import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Answer } from '../../../src/answer/answer';
import { IDENTITY_HEADERS } from '../../../src/request/identity-headers';
import { headersToRemove } from '../../../src/answer/headers-to-remove';
import { spellingsOf } from '../../../src/request/header-spellings';
import { allSpellings, otherSpellings } from '../../support/spellings';

type Allow = Extract<Answer, { kind: 'allow' }>;
const allow = (set: readonly string[], withheld: readonly string[]): Allow => ({
  kind: 'allow',
  identityHeaders: set.map((name) => [name, 'v']),
  withheld,
  upstreamCredentials: [],
  clientHeaders: [],
});
const sorted = (names: readonly string[]) => [...names].sort();

test('every "-"/"_"/"." spelling of a name, the name first', () => {
  assert.deepEqual(spellingsOf('x-kratos-aal'), [
    'x-kratos-aal',
    'x-kratos_aal',
    'x-kratos.aal',
    'x_kratos-aal',
    'x_kratos_aal',
    'x_kratos.aal',
    'x.kratos-aal',
    'x.kratos_aal',
    'x.kratos.aal',
  ]);
  assert.deepEqual(spellingsOf('authorization'), ['authorization']);
  assert.deepEqual(sorted(spellingsOf('x-a-b-c-d')), sorted(allSpellings('x-a-b-c-d')));
});

test('a trait header set: its other spellings; a trait header withheld: all of them', () => {
  const names = headersToRemove(allow([...IDENTITY_HEADERS, 'x-user-email', 'authorization'], ['x-user-name']));
  assert.deepEqual(
    sorted(names),
    sorted([...IDENTITY_HEADERS, 'x-user-email'].flatMap(otherSpellings).concat(allSpellings('x-user-name'))),
  );
  assert.ok(!names.includes('authorization'), 'a name set without "-" has nothing more to remove');
});

test('the same shape of answer gets the same frozen list (the gRPC codec keeps its bytes)', () => {
  const first = headersToRemove(allow([...IDENTITY_HEADERS, 'x-user-email'], ['x-kratos-jwt']));
  assert.equal(headersToRemove(allow([...IDENTITY_HEADERS, 'x-user-email'], ['x-kratos-jwt'])), first);
  assert.ok(Object.isFrozen(first));
  assert.notEqual(headersToRemove(allow([...IDENTITY_HEADERS], ['x-user-email', 'x-kratos-jwt'])), first);
});
