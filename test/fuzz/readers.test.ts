/**
 * The smaller readers on random input, each against an oracle that does not share its code:
 * the host an accepted :authority names is the host WHATWG URL reads from it; the header bag of
 * either encoding hands back the lines sent; the preferred media type of an Accept header built
 * from known ranges is the first of the highest quality.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as fc from 'fast-check';
import { readCheckRequest } from '../../src/envoy/check-request';
import { preferredMediaType } from '../../src/request/navigation';
import { hostOfAuthority } from '../../src/request/authority';
import { holds } from './support/property';
import { checkRequestOf, type Encoding } from './support/request-arbitrary';
import type { HeaderLine } from './support/kratos-oracle';

const authorityChar = fc.constantFrom(...'aZ09.-_:[]@%\\/?#; é\u0000'.split(''));
const authority = fc.oneof(
  fc.array(authorityChar, { maxLength: 14 }).map((chars) => chars.join('')),
  fc
    .tuple(
      fc.constantFrom('app', 'APP', 'a-b', 'x_y', '1'),
      fc.constantFrom('.example.com', '.example.com.', '', '.'),
      fc.constantFrom('', ':443', ':8443', ':0', ':99999', ':'),
    )
    .map((parts) => parts.join('')),
  fc.constantFrom('[::1]', '[::1]:8443', '[0:0::ffff:1.2.3.4]', '[fe80::1%25eth0]', '[::1'),
);

test('an accepted :authority names the host WHATWG URL reads from it', async (t) => {
  let accepted = 0;
  await holds(
    t,
    fc.property(authority, (raw) => {
      const host = hostOfAuthority(raw);
      if (host === undefined) return;
      accepted++;
      // The port may be out of range for a URL; the host part is what an upstream routes on.
      const url = new URL(`http://${raw.replace(/:\d*$/, '')}/`);
      assert.equal(host, url.hostname.replace(/\.$/, ''), raw);
    }),
    3000,
  );
  assert.ok(accepted > 300, `only ${accepted} authorities were accepted`);
});

const name = fc.constantFrom('cookie', 'Cookie', 'x-a', 'X-A', 'accept');
const lines = (encoding: Encoding) =>
  fc.array(
    fc
      .tuple(
        encoding === 'raw' ? name : name.map((text) => text.toLowerCase()),
        fc.string({ unit: 'binary-ascii', maxLength: 8 }),
      )
      .map(([key, value]): HeaderLine => [key, value]),
    { maxLength: 6 },
  );

for (const encoding of ['raw', 'joined'] as const) {
  test(`${encoding} headers: the bag hands back every line sent, in order (joined with "," in the headers map)`, async (t) => {
    await holds(
      t,
      fc.property(lines(encoding), (sent) => {
        const read = readCheckRequest(checkRequestOf(sent, encoding));
        assert.ok(read.ok);
        for (const key of ['cookie', 'x-a', 'accept']) {
          const values = sent.filter(([line]) => line.toLowerCase() === key).map(([, value]) => value);
          const expected = encoding === 'raw' || values.length === 0 ? values : [values.join(',')];
          assert.deepEqual(read.view.headers.all(key), expected, key);
          assert.equal(read.view.headers.first(key), expected[0]);
          assert.equal(read.view.headers.has(key), values.length > 0);
        }
      }),
      1000,
    );
  });
}

const mediaRange = fc.record({
  type: fc.constantFrom('text/html', 'application/json', '*/*', 'text/*', 'application/xhtml+xml'),
  quality: fc.option(fc.integer({ min: 0, max: 1000 }), { nil: undefined }),
  spaces: fc.constantFrom('', ' ', '\t'),
  extra: fc.constantFrom('', ';level=1', ';charset=utf-8'),
});

/** q as written in the header: 0, 1, or up to three decimals. */
function qText(quality: number): string {
  return quality === 1000 ? '1' : quality === 0 ? '0' : `0.${String(quality).padStart(3, '0').replace(/0+$/, '')}`;
}

test('the preferred media type of an Accept header is the first range of the highest quality above 0', async (t) => {
  await holds(
    t,
    fc.property(fc.array(mediaRange, { maxLength: 6 }), (ranges) => {
      const header = ranges
        .map(
          ({ type, quality, spaces, extra }) =>
            `${spaces}${type}${extra}${quality === undefined ? '' : `;q=${qText(quality)}`}${spaces}`,
        )
        .join(',');
      let best: string | undefined;
      let bestQuality = 0;
      for (const { type, quality = 1000 } of ranges) {
        if (quality > bestQuality) [best, bestQuality] = [type, quality];
      }
      assert.equal(preferredMediaType(header), best, header);
    }),
    2000,
  );
});
