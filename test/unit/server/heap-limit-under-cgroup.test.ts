/** The heap limit under a container's memory limit (src/server/heap-limit.ts). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  BASE_HEAP_MIB,
  heapLimitMiB,
  heapLimitUnder,
  memoryLimitBytes,
  NON_HEAP_MIB,
  YOUNG_GENERATION_MIB,
} from '../../../src/server/heap-limit';

const MIB = 1024 * 1024;
const GIB = 1024 * MIB;

test('no memory limit: undefined (Node 20), 0 (Node 22 on), or the huge number of an unlimited cgroup v1', () => {
  assert.equal(memoryLimitBytes(undefined, 24 * GIB), undefined);
  assert.equal(memoryLimitBytes(0, 24 * GIB), undefined);
  assert.equal(memoryLimitBytes(9_223_372_036_854_771_712, 24 * GIB), undefined);
  assert.equal(memoryLimitBytes(256 * MIB, 24 * GIB), 256 * MIB);
});

test('without a limit, or with room for it, the heap is what the cache needs', () => {
  assert.equal(heapLimitUnder(heapLimitMiB(100_000), undefined), heapLimitMiB(100_000));
  assert.equal(heapLimitUnder(heapLimitMiB(100_000), 256 * MIB), heapLimitMiB(100_000));
});

test('a cache too large for the limit gets the heap that fits beside the young generation and the rest of the process', () => {
  const capped = heapLimitUnder(heapLimitMiB(1_000_000), 256 * MIB);
  assert.equal(capped, 256 - YOUNG_GENERATION_MIB - NON_HEAP_MIB);
  assert.ok(capped < heapLimitMiB(1_000_000));
});

test('never under the base heap, below which the service cannot run', () => {
  assert.equal(heapLimitUnder(heapLimitMiB(100_000), 96 * MIB), BASE_HEAP_MIB);
});
