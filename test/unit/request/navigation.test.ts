import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { isBrowserNavigation, preferredMediaType } from '../../../src/request/navigation';
import { headerBag } from '../support/request';

// Accept headers real browsers send for a top-level navigation.
const CHROME =
  'text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7';
const FIREFOX = 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8';
const FIREFOX_OLD = 'text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8';
const SAFARI = 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8';
// What fetch()/XHR send by default.
const FETCH_DEFAULT = '*/*';

describe('isBrowserNavigation', () => {
  const cases: ReadonlyArray<{ name: string; lines: ReadonlyArray<readonly [string, string]>; expected: boolean }> = [
    {
      name: 'Chrome navigation',
      lines: [
        ['sec-fetch-mode', 'navigate'],
        ['accept', CHROME],
      ],
      expected: true,
    },
    { name: 'Chrome Accept alone (no fetch metadata)', lines: [['accept', CHROME]], expected: true },
    { name: 'Firefox Accept alone', lines: [['accept', FIREFOX]], expected: true },
    { name: 'older Firefox Accept alone', lines: [['accept', FIREFOX_OLD]], expected: true },
    { name: 'Safari Accept alone', lines: [['accept', SAFARI]], expected: true },
    {
      name: 'sec-fetch-mode navigate with a JSON Accept: fetch metadata wins',
      lines: [
        ['sec-fetch-mode', 'navigate'],
        ['accept', 'application/json'],
      ],
      expected: true,
    },
    { name: 'sec-fetch-mode navigate without Accept', lines: [['sec-fetch-mode', 'navigate']], expected: true },
    {
      name: 'sec-fetch-mode value is trimmed and case-insensitive',
      lines: [['sec-fetch-mode', ' Navigate ']],
      expected: true,
    },
    {
      name: 'sec-fetch-mode cors with an HTML Accept: fetch metadata wins',
      lines: [
        ['sec-fetch-mode', 'cors'],
        ['accept', CHROME],
      ],
      expected: false,
    },
    {
      name: 'sec-fetch-mode no-cors with an HTML Accept',
      lines: [
        ['sec-fetch-mode', 'no-cors'],
        ['accept', 'text/html'],
      ],
      expected: false,
    },
    {
      name: 'sec-fetch-mode same-origin',
      lines: [
        ['sec-fetch-mode', 'same-origin'],
        ['accept', 'text/html'],
      ],
      expected: false,
    },
    { name: 'application/json', lines: [['accept', 'application/json']], expected: false },
    { name: 'fetch() default */*', lines: [['accept', FETCH_DEFAULT]], expected: false },
    { name: 'absent Accept and no fetch metadata', lines: [], expected: false },
    { name: 'empty Accept', lines: [['accept', '']], expected: false },
    { name: 'text/html ranked below JSON', lines: [['accept', 'text/html;q=0.1, application/json']], expected: false },
    {
      name: 'JSON and HTML tie: the first (JSON) wins',
      lines: [['accept', 'application/json, text/html']],
      expected: false,
    },
    {
      name: 'HTML and JSON tie: the first (HTML) wins',
      lines: [['accept', 'text/html, application/json']],
      expected: true,
    },
    { name: 'text/html refused with q=0', lines: [['accept', 'text/html;q=0']], expected: false },
    { name: 'upper-case TEXT/HTML', lines: [['accept', 'TEXT/HTML']], expected: true },
    { name: 'text/* is not text/html', lines: [['accept', 'text/*']], expected: false },
    {
      name: 'application/xhtml+xml alone is not text/html',
      lines: [['accept', 'application/xhtml+xml']],
      expected: false,
    },
  ];
  for (const { name, lines, expected } of cases) {
    test(`${name} → ${expected}`, () => {
      assert.equal(isBrowserNavigation(headerBag(lines)), expected);
    });
  }
});

describe('preferredMediaType', () => {
  const cases: ReadonlyArray<{ accept: string; expected: string | undefined }> = [
    { accept: CHROME, expected: 'text/html' },
    { accept: 'application/json', expected: 'application/json' },
    { accept: '*/*', expected: '*/*' },
    { accept: ' Application/JSON ', expected: 'application/json' },
    { accept: 'text/html;q=0.1, application/json', expected: 'application/json' },
    { accept: 'application/json;q=0.5, text/html;q=0.9', expected: 'text/html' },
    { accept: 'a/a;q=0.5, b/b;q=0.5', expected: 'a/a' },
    { accept: 'a/a, b/b', expected: 'a/a' },
    { accept: 'text/html;level=1;q=0.5, application/json;q=0.4', expected: 'text/html' },
    { accept: 'text/html; Q=0.2, application/json;q=0.3', expected: 'application/json' },
    { accept: 'text/html;q= 0.8 , application/json;q=0.7', expected: 'text/html' },
    // Invalid q values count as 0: never preferred.
    { accept: 'text/html;q=abc, application/json;q=0.1', expected: 'application/json' },
    { accept: 'text/html;q=1.5, application/json;q=0.5', expected: 'application/json' },
    { accept: 'text/html;q=-1, application/json;q=0.5', expected: 'application/json' },
    { accept: 'text/html;q=NaN, application/json;q=0.5', expected: 'application/json' },
    { accept: 'text/html;q=Infinity, application/json;q=0.5', expected: 'application/json' },
    { accept: 'text/html;q=abc', expected: undefined },
    { accept: 'text/html;q=0', expected: undefined },
    { accept: 'text/html;q=0x1, application/json;q=0.5', expected: 'application/json' },
    // RFC 9110 §5.6.1: empty list elements are ignored.
    { accept: ', text/html', expected: 'text/html' },
    { accept: 'text/html;q=0.9, , application/json;q=0.5', expected: 'text/html' },
    { accept: '', expected: undefined },
  ];
  for (const { accept, expected } of cases) {
    test(`${JSON.stringify(accept)} → ${String(expected)}`, () => {
      assert.equal(preferredMediaType(accept), expected);
    });
  }
});
