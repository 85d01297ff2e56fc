import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseConfig } from '../../src/config/load';
import { BASE_HEAP_MIB, givesV8Flag, HEAP_BYTES_PER_CACHE_ENTRY, heapLimitMiB } from '../../src/server/heap-limit';

describe('heapLimitMiB', () => {
  test('a disabled cache (max_entries 0) gets the base heap alone', () => {
    assert.equal(heapLimitMiB(0), BASE_HEAP_MIB);
  });

  test('the default cache (100000 entries) gets 121 MiB: 56 and 680 bytes an entry, rounded up', () => {
    assert.equal(parseConfig({}, {}).cache.max_entries, 100_000);
    assert.equal(heapLimitMiB(100_000), 56 + Math.ceil((100_000 * 680) / (1024 * 1024)));
    assert.equal(heapLimitMiB(100_000), 121);
  });

  test('entries within one MiB add one; one entry more adds a second', () => {
    const withinOneMiB = Math.floor((1024 * 1024) / HEAP_BYTES_PER_CACHE_ENTRY);
    assert.equal(heapLimitMiB(withinOneMiB), BASE_HEAP_MIB + 1);
    assert.equal(heapLimitMiB(withinOneMiB + 1), BASE_HEAP_MIB + 2);
  });

  test('grows linearly with the cache: a million entries get about 700 MiB', () => {
    assert.equal(heapLimitMiB(1_000_000), BASE_HEAP_MIB + 649);
    assert.ok(heapLimitMiB(200_000) > heapLimitMiB(100_000));
  });
});

describe('givesV8Flag', () => {
  test('finds the flag on the command line, with or without a value, and with underscores', () => {
    assert.equal(givesV8Flag('--max-old-space-size', ['--max-old-space-size=300'], undefined), true);
    assert.equal(givesV8Flag('--heap-growing-percent', ['--heap_growing_percent=50'], undefined), true);
    assert.equal(givesV8Flag('--heap-growing-percent', ['--heap-growing-percent'], undefined), true);
  });

  test('finds it among other NODE_OPTIONS', () => {
    assert.equal(givesV8Flag('--max-old-space-size', [], '--enable-source-maps  --max-old-space-size=512'), true);
  });

  test('a similar flag, or none, is not it', () => {
    assert.equal(givesV8Flag('--max-old-space-size', ['--max-semi-space-size=16'], '--max-old-space-size-percentage=50'), false);
    assert.equal(givesV8Flag('--heap-growing-percent', [], undefined), false);
    assert.equal(givesV8Flag('--heap-growing-percent', [], ''), false);
  });
});
