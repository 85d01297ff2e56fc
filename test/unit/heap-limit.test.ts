import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { BASE_HEAP_MIB, HEAP_BYTES_PER_CACHE_ENTRY, heapLimitMiB } from '../../src/server/heap-limit';
import { parseConfig } from '../../src/config/load';

describe('heapLimitMiB', () => {
  test('a disabled cache (max_entries 0) gets the base heap alone', () => {
    assert.equal(heapLimitMiB(0), BASE_HEAP_MIB);
  });

  test('the default cache (100000 entries) gets 162 MiB: the base and 1 KiB an entry, rounded up', () => {
    assert.equal(parseConfig({}, {}).cache.max_entries, 100_000);
    assert.equal(HEAP_BYTES_PER_CACHE_ENTRY, 1024);
    assert.equal(heapLimitMiB(100_000), BASE_HEAP_MIB + 98);
  });

  test('one entry more than a whole MiB of entries rounds up to the next MiB', () => {
    const perMiB = (1024 * 1024) / HEAP_BYTES_PER_CACHE_ENTRY;
    assert.equal(heapLimitMiB(perMiB), BASE_HEAP_MIB + 1);
    assert.equal(heapLimitMiB(perMiB + 1), BASE_HEAP_MIB + 2);
  });

  test('grows linearly with the cache: a million entries get about 1 GiB', () => {
    assert.equal(heapLimitMiB(1_000_000), BASE_HEAP_MIB + 977);
    assert.ok(heapLimitMiB(200_000) > heapLimitMiB(100_000));
  });
});
