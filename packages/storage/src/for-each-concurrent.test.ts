import assert from 'node:assert/strict';
import { test } from 'node:test';
import { forEachConcurrent } from './for-each-concurrent.ts';

const tick = () => new Promise((resolve) => setTimeout(resolve, 1));

test('at most `limit` calls in flight, every item once with its index', async () => {
  let inFlight = 0;
  let most = 0;
  const seen: [string, number][] = [];
  await forEachConcurrent(['a', 'b', 'c', 'd', 'e', 'f', 'g'], 3, async (item, index) => {
    most = Math.max(most, ++inFlight);
    await tick();
    seen.push([item, index]);
    inFlight--;
  });
  assert.equal(most, 3);
  assert.deepEqual(seen.sort(), ['a', 'b', 'c', 'd', 'e', 'f', 'g'].map((item, index) => [item, index]));
  await forEachConcurrent([], 3, () => assert.fail('no items, no calls'));
});

test('after a rejection no call starts; the first rejection is thrown once the started calls settle', async () => {
  const started: number[] = [];
  const finished: number[] = [];
  await assert.rejects(
    forEachConcurrent([0, 1, 2, 3, 4, 5, 6, 7], 2, async (item) => {
      started.push(item);
      await tick();
      if (item === 1) throw new Error('store down');
      await tick();
      finished.push(item);
    }),
    /store down/,
  );
  assert.deepEqual(started, [0, 1], 'nothing started after the failure');
  assert.deepEqual(finished, [0], 'the call in flight alongside it was waited for');
});
