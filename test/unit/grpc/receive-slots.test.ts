import assert from 'node:assert/strict';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { test } from 'node:test';
import { ReceiveSlots, type Release } from '../../../src/grpc/receive-slots';

/** Takes a slot for `connection`; `admitted` holds its release once it has one. */
function caller(slots: ReceiveSlots, connection: string) {
  const call: { release?: Release; withdraw: () => void } = { withdraw: () => undefined };
  call.withdraw = slots.take(connection, (release) => (call.release = release));
  return call;
}

test('slots are given at once while free, then in turn by connection as they come back', async () => {
  const slots = new ReceiveSlots(2, 2);
  const [a1, a2] = [caller(slots, 'a'), caller(slots, 'a')];
  assert.ok(a1.release && a2.release, 'two free slots');
  const [a3, b1, a4] = [caller(slots, 'a'), caller(slots, 'b'), caller(slots, 'a')];
  assert.equal(a3.release ?? b1.release ?? a4.release, undefined, 'none free');
  a1.release();
  await nextTurn();
  assert.ok(a3.release, "a's turn first: it asked first");
  a2.release();
  await nextTurn();
  assert.ok(b1.release, "then b's, ahead of a's second waiting call");
  assert.equal(a4.release, undefined);
});

test('one connection holds at most its share: a slot it cannot take stays free for another', () => {
  const slots = new ReceiveSlots(4, 2);
  const greedy = [0, 1, 2, 3].map(() => caller(slots, 'greedy'));
  assert.equal(greedy.filter((call) => call.release).length, 2);
  assert.ok(caller(slots, 'other').release, 'a slot was left for another connection');
  assert.ok(caller(slots, 'third').release);
  assert.equal(caller(slots, 'fourth').release, undefined, 'all four taken');
});

test('a connection at its share gets its waiting call once it gives one back, even with free slots', async () => {
  const slots = new ReceiveSlots(4, 1);
  const first = caller(slots, 'a');
  const second = caller(slots, 'a');
  assert.equal(second.release, undefined, 'three slots are free, but a holds its one');
  first.release?.();
  await nextTurn();
  assert.ok(second.release);
});

test('a withdrawn call is skipped; a release given twice frees one slot, not two', async () => {
  const slots = new ReceiveSlots(1, 1);
  const holder = caller(slots, 'a');
  const withdrawn = caller(slots, 'b');
  const waiting = caller(slots, 'c');
  withdrawn.withdraw();
  holder.release?.();
  holder.release?.();
  await nextTurn();
  assert.equal(withdrawn.release, undefined);
  assert.ok(waiting.release);
  assert.equal(caller(slots, 'd').release, undefined, 'the second release gave nothing back');
});
