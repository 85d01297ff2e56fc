import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseConfig } from '../../../src/config/load';
import {
  BASE_HEAP_MIB,
  givesV8Flag,
  HEAP_BYTES_PER_CACHE_ENTRY,
  heapLimitMiB,
  memoryShareBytes,
  MIN_HEAP_MIB,
  PRIMARY_MIB,
} from '../../../src/server/heap-limit';

describe('heapLimitMiB', () => {
  test('a disabled or small cache gets the minimum, 96 MiB', () => {
    assert.equal(heapLimitMiB(0), MIN_HEAP_MIB);
    assert.equal(heapLimitMiB(10_000), MIN_HEAP_MIB);
    assert.equal(MIN_HEAP_MIB, 96);
  });

  test('the minimum gives way where the cache needs more: from about 62000 entries', () => {
    assert.equal(heapLimitMiB(62_000), MIN_HEAP_MIB + 1);
    assert.equal(heapLimitMiB(61_000), MIN_HEAP_MIB);
  });

  test('the default cache (100000 entries) gets 121 MiB: 56 and 680 bytes an entry, rounded up', () => {
    assert.equal(parseConfig({}, {}).cache.max_entries, 100_000);
    assert.equal(heapLimitMiB(100_000), 56 + Math.ceil((100_000 * 680) / (1024 * 1024)));
    assert.equal(heapLimitMiB(100_000), 121);
  });

  test('past the minimum, a part of a MiB counts as a whole one', () => {
    const oneMiBOfEntries = (1024 * 1024) / HEAP_BYTES_PER_CACHE_ENTRY;
    assert.equal(heapLimitMiB(Math.floor(100 * oneMiBOfEntries)), BASE_HEAP_MIB + 100);
    assert.equal(heapLimitMiB(Math.floor(100 * oneMiBOfEntries) + 1), BASE_HEAP_MIB + 101);
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
    assert.equal(
      givesV8Flag('--max-old-space-size', ['--max-semi-space-size=16'], '--max-old-space-size-percentage=50'),
      false,
    );
    assert.equal(givesV8Flag('--heap-growing-percent', [], undefined), false);
    assert.equal(givesV8Flag('--heap-growing-percent', [], ''), false);
  });
});

describe('memoryShareBytes', () => {
  const MIB = 1024 * 1024;
  test('one process has the whole memory limit', () => {
    assert.equal(memoryShareBytes(512 * MIB, 1), 512 * MIB);
  });

  test('N workers share what the primary leaves equally', () => {
    assert.equal(memoryShareBytes(1024 * MIB, 2), ((1024 - PRIMARY_MIB) / 2) * MIB);
    assert.equal(memoryShareBytes(1024 * MIB, 4), ((1024 - PRIMARY_MIB) / 4) * MIB);
  });
});
