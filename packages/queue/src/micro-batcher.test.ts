import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';
import { BatchFailedError } from './errors/batch-failed-error.ts';
import { type BatchReport, MicroBatcher } from './micro-batcher.ts';

const hour = 3_600_000;

test('batches form up to maxBatch and the maxWaitMs timer sends the partial rest', async () => {
  const batches: number[][] = [];
  const batcher = new MicroBatcher<number, number>({
    maxBatch: 2,
    maxWaitMs: 20,
    processBatch: async (items) => {
      batches.push([...items]);
      return items.map((n) => n * 10);
    },
  });
  const results = await Promise.all([1, 2, 3, 4, 5].map((n) => batcher.submit(n)));
  assert.deepEqual(results, [10, 20, 30, 40, 50]);
  assert.deepEqual(batches, [[1, 2], [3, 4], [5]]);
  await batcher.close();
});

test('runs one batch at a time while the next one fills', async () => {
  let inFlight = 0;
  let maxInFlight = 0;
  const sizes: number[] = [];
  const batcher = new MicroBatcher<number, number>({
    maxBatch: 3,
    maxWaitMs: 5,
    processBatch: async (items) => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      sizes.push(items.length);
      await sleep(15);
      inFlight--;
      return items;
    },
  });
  const submitted: Promise<number>[] = [];
  for (let i = 0; i < 20; i++) {
    submitted.push(batcher.submit(i));
    if (i % 4 === 0) await sleep(3);
  }
  assert.deepEqual(await Promise.all(submitted), Array.from({ length: 20 }, (_, i) => i));
  assert.equal(maxInFlight, 1);
  assert.ok(sizes.every((size) => size >= 1 && size <= 3), `sizes ${sizes.join(',')}`);
  assert.ok(sizes.includes(3), 'items that arrive during a batch form the next full batch');
  await batcher.close();
});

test('maxConcurrentBatches: that many batches overlap, never more', async () => {
  let inFlight = 0;
  let maxInFlight = 0;
  const batcher = new MicroBatcher<number, number>({
    maxBatch: 2,
    maxWaitMs: 1,
    maxConcurrentBatches: 2,
    processBatch: async (items) => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      await sleep(15);
      inFlight--;
      return items;
    },
  });
  const results = await Promise.all(Array.from({ length: 12 }, (_, i) => batcher.submit(i)));
  assert.deepEqual(results, Array.from({ length: 12 }, (_, i) => i));
  assert.equal(maxInFlight, 2);
  await batcher.close();
  assert.throws(() => new MicroBatcher({ maxBatch: 1, maxWaitMs: 1, maxConcurrentBatches: 0, processBatch: async () => [] }), RangeError);
});

test('an Error outcome fails only its own item', async () => {
  const batcher = new MicroBatcher<string, string>({
    maxBatch: 3,
    maxWaitMs: hour,
    processBatch: async (items) => items.map((item) => (item === 'bad' ? new Error('bad item') : item.toUpperCase())),
  });
  const [a, bad, c] = await Promise.allSettled(['a', 'bad', 'c'].map((item) => batcher.submit(item)));
  assert.deepEqual(a, { status: 'fulfilled', value: 'A' });
  assert.equal(bad?.status, 'rejected');
  assert.deepEqual(c, { status: 'fulfilled', value: 'C' });
  await batcher.close();
});

test('a throw from processBatch rejects every item of that batch with BatchFailedError', async () => {
  const cause = new Error('engine crashed');
  let calls = 0;
  const batcher = new MicroBatcher<number, number>({
    maxBatch: 2,
    maxWaitMs: hour,
    processBatch: async (items) => {
      if (calls++ === 0) throw cause;
      return items;
    },
  });
  const first = await Promise.allSettled([batcher.submit(1), batcher.submit(2)]);
  for (const outcome of first) {
    assert.equal(outcome.status, 'rejected');
    assert.ok(outcome.status === 'rejected' && outcome.reason instanceof BatchFailedError);
    assert.equal(outcome.reason.cause, cause);
  }
  assert.deepEqual(await Promise.all([batcher.submit(3), batcher.submit(4)]), [3, 4], 'the next batch runs normally');
  await batcher.close();
});

test('a wrong number of outcomes fails the batch instead of mismatching results', async () => {
  const batcher = new MicroBatcher<number, number>({ maxBatch: 2, maxWaitMs: hour, processBatch: async () => [1] });
  const outcomes = await Promise.allSettled([batcher.submit(1), batcher.submit(2)]);
  assert.ok(outcomes.every((o) => o.status === 'rejected' && o.reason instanceof BatchFailedError && /1 outcomes for 2 items/.test(o.reason.message)));
  await batcher.close();
});

test('close() sends a partial batch at once instead of waiting maxWaitMs, and is safe to call twice', async () => {
  const sizes: number[] = [];
  const batcher = new MicroBatcher<number, number>({
    maxBatch: 8,
    maxWaitMs: hour, // only close() can send these: waiting for the timer would time the test out
    processBatch: async (items) => {
      sizes.push(items.length);
      return items;
    },
  });
  const submitted = [batcher.submit(1), batcher.submit(2), batcher.submit(3)];
  await Promise.all([batcher.close(), batcher.close()]);
  assert.deepEqual(await Promise.all(submitted), [1, 2, 3]);
  assert.deepEqual(sizes, [3]);
  await batcher.close();
  await assert.rejects(batcher.submit(4), /closed/);
});

test('hooks report batch size and duration; a throwing hook does not fail items', async () => {
  const reports: BatchReport[] = [];
  const started: number[] = [];
  const hookErrors: unknown[] = [];
  const batcher = new MicroBatcher<number, number>({
    maxBatch: 2,
    maxWaitMs: hour,
    processBatch: async (items) => items.map((n) => (n === 2 ? new Error('no') : n)),
    onBatchStart: (size) => {
      started.push(size);
      throw new Error('metrics bug');
    },
    onBatchEnd: (report) => reports.push(report),
    onHookError: (error) => hookErrors.push(error),
  });
  const outcomes = await Promise.allSettled([batcher.submit(1), batcher.submit(2)]);
  assert.deepEqual(
    outcomes.map((o) => o.status),
    ['fulfilled', 'rejected'],
  );
  assert.deepEqual(started, [2]);
  assert.equal(reports.length, 1);
  assert.equal(reports[0]?.size, 2);
  assert.equal(reports[0]?.failed, 1);
  assert.ok((reports[0]?.durationSeconds ?? -1) >= 0);
  assert.equal(hookErrors.length, 1);
  await batcher.close();
});

test('rejects nonsensical settings', () => {
  const processBatch = async (items: readonly number[]) => items;
  assert.throws(() => new MicroBatcher({ maxBatch: 0, maxWaitMs: 1, processBatch }), RangeError);
  assert.throws(() => new MicroBatcher({ maxBatch: 1.5, maxWaitMs: 1, processBatch }), RangeError);
  assert.throws(() => new MicroBatcher({ maxBatch: 1, maxWaitMs: -1, processBatch }), RangeError);
});

test('evict() rejects the items waiting for a batch, leaves the running batch alone, and the batcher goes on', async () => {
  let release!: () => void;
  const running = new Promise<void>((resolve) => (release = resolve));
  const batches: number[][] = [];
  const batcher = new MicroBatcher<number, number>({
    maxBatch: 2,
    maxWaitMs: hour, // only a full batch, evict() or close() moves anything here
    processBatch: async (items) => {
      batches.push([...items]);
      if (batches.length === 1) await running;
      return items;
    },
  });
  const first = [batcher.submit(1), batcher.submit(2)];
  const waiting = [batcher.submit(3)].map((p) => p.then(() => 'resolved', (error: unknown) => error));
  const reason = new Error('handed back');
  assert.equal(batcher.evict(reason), 1);
  assert.equal(batcher.pending, 0);
  assert.deepEqual(await Promise.all(waiting), [reason]);
  release();
  assert.deepEqual(await Promise.all(first), [1, 2]);
  await batcher.onIdle();
  assert.deepEqual(await Promise.all([batcher.submit(4), batcher.submit(5)]), [4, 5]);
  assert.deepEqual(batches, [[1, 2], [4, 5]]);
  assert.equal(batcher.evict(reason), 0);
  await batcher.close();
});

test('flush() sends the items pending now without waiting maxWaitMs; items submitted later wait as usual', async () => {
  let release!: () => void;
  const running = new Promise<void>((resolve) => (release = resolve));
  const batches: number[][] = [];
  const batcher = new MicroBatcher<number, number>({
    maxBatch: 2,
    maxWaitMs: hour, // only a full batch, flush() or close() moves anything here
    processBatch: async (items) => {
      batches.push([...items]);
      if (batches.length === 1) await running;
      return items;
    },
  });
  const first = [batcher.submit(1), batcher.submit(2)]; // a full batch: runs, and holds the only slot
  const flushed = [batcher.submit(3), batcher.submit(4), batcher.submit(5)];
  batcher.flush(); // no slot free yet: sent once the running batch ends
  const rider = batcher.submit(6); // after flush(), but it fills the flushed 5's batch
  await sleep(20);
  assert.deepEqual(batches, [[1, 2]]);
  release();
  assert.deepEqual(await Promise.all([...first, ...flushed, rider]), [1, 2, 3, 4, 5, 6]);
  assert.deepEqual(batches, [[1, 2], [3, 4], [5, 6]]);
  batcher.flush(); // nothing pending: a no-op, the next item waits as usual
  const later = batcher.submit(7);
  await sleep(20);
  assert.equal(batcher.pending, 1);
  batcher.flush();
  assert.equal(await later, 7);
  const last = batcher.submit(8);
  await sleep(20);
  assert.equal(batcher.pending, 1, 'a flush covers the items pending when it was called, no later ones');
  await batcher.close();
  assert.equal(await last, 8);
  assert.deepEqual(batches, [[1, 2], [3, 4], [5, 6], [7], [8]]);
});
