/** Which of whoami's Set-Cookie lines are passed on to the client as the renewed session cookie. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { refreshedCookieOf } from '../../../src/kratos/refreshed-cookie';

const NAME = 'ory_kratos_session';
const KRATOS_LINE = `${NAME}=MTc5NjEyNTI1OXxjbjRC; Path=/; Expires=Wed, 02 Dec 2026 11:40:58 GMT; Max-Age=86399; HttpOnly; SameSite=Lax`;

describe('refreshedCookieOf', () => {
  test('keeps the session cookie line whole, commas and spaces of Expires included', () => {
    assert.deepEqual(refreshedCookieOf([KRATOS_LINE], NAME), [KRATOS_LINE]);
  });

  test('only lines for the configured cookie name (exact, case-sensitive, trimmed): other cookies stay with Kratos', () => {
    const lines = [
      'csrf_token_abc=x; Path=/',
      `${NAME.toUpperCase()}=x`,
      `${NAME}_other=x`,
      ` ${NAME} =v; Path=/`,
      `x=${NAME}=y`,
    ];
    assert.deepEqual(refreshedCookieOf(lines, NAME), [` ${NAME} =v; Path=/`]);
    assert.equal(refreshedCookieOf(['csrf_token_abc=x'], NAME), undefined);
    assert.equal(refreshedCookieOf([], NAME), undefined);
  });

  test('a line with a control or non-ASCII byte drops the renewal: nothing unsafe reaches a header', () => {
    for (const bad of [
      `${NAME}=a\r\nx-evil: 1`,
      `${NAME}=a\nb`,
      `${NAME}=a\u0000`,
      `${NAME}=a\tb`,
      `${NAME}=é`,
      `${NAME}=${'a'.repeat(8192)}`,
    ]) {
      assert.equal(refreshedCookieOf([KRATOS_LINE, bad], NAME), undefined, JSON.stringify(bad.slice(0, 40)));
    }
  });

  test('a bounded number of lines: more than four is not a session cookie being renewed', () => {
    assert.deepEqual(
      refreshedCookieOf(
        Array.from({ length: 4 }, () => KRATOS_LINE),
        NAME,
      )?.length,
      4,
    );
    assert.equal(
      refreshedCookieOf(
        Array.from({ length: 5 }, () => KRATOS_LINE),
        NAME,
      ),
      undefined,
    );
  });

  test('a line without a name (no "=" or nothing before it) is nobody\'s cookie', () => {
    assert.equal(refreshedCookieOf([NAME, `=${NAME}`, `;${NAME}=x`], NAME), undefined);
  });
});
