import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Redis } from 'ioredis';
import { createExplainQueue } from './explain-queue.ts';
import { JobEventsPurger, type PurgeScan } from './job-events-purger.ts';
import { purgeJobsEvents } from './purge-job-events.ts';
import { randomPrefix, useRedisConnection } from './test-fixtures.ts';

let connection: Redis;
useRedisConnection((ready) => (connection = ready));

const jobIdsOf = async (key: string) => (await connection.xrange(key, '-', '+')).map(([, fields]) => fields[fields.indexOf('jobId') + 1]);

/** Scripts Redis has run by EVALSHA (the purge's script, once loaded): one per chunk of a scan. */
async function scriptsRun(): Promise<number> {
  const stats = await connection.info('commandstats');
  return Number(/^cmdstat_evalsha:calls=(\d+)/m.exec(stats)?.[1] ?? 0);
}

/**
 * The real scan (purgeJobsEvents on Redis), recording the ids of each scan; the first scan, once its
 * Redis work is done (or failed), is held until `release()`: `firstScanned` says when it is held.
 */
function heldFirstScan(queue: ReturnType<typeof createExplainQueue>) {
  const scans: string[][] = [];
  let release = () => {};
  const released = new Promise<void>((resolve) => (release = resolve));
  let scannedFirst = () => {};
  const firstScanned = new Promise<void>((resolve) => (scannedFirst = resolve));
  const scan: PurgeScan = async (ids) => {
    scans.push([...ids]);
    try {
      return await purgeJobsEvents(queue, ids);
    } finally {
      if (scans.length === 1) {
        scannedFirst();
        await released;
      }
    }
  };
  return { scans, scan, firstScanned, release };
}

test('100 concurrent requests share 2 scans (2 scripts on Redis): one asked during a scan is served by the next, which covers an entry written after the first scan read the stream', async () => {
  const queue = createExplainQueue({ connection, prefix: randomPrefix(), onError: () => {} });
  const key = queue.toKey('events');
  try {
    const ids = Array.from({ length: 100 }, (_, i) => `id-${i}`);
    for (const id of [...ids, 'other', ...ids]) await connection.xadd(key, '*', 'event', 'waiting', 'jobId', id);
    await purgeJobsEvents(queue, ['warm-up']); // loads the script: EVALSHA from here on
    const { scans, scan, firstScanned, release } = heldFirstScan(queue);
    const purger = new JobEventsPurger(scan);
    const scriptsBefore = await scriptsRun();

    const first = purger.purge('id-0');
    await firstScanned;
    // Scan 1 has read and purged the stream; it is still running as the purger sees it.
    await connection.xadd(key, '*', 'event', 'removed', 'jobId', 'id-0');
    const rest = ids.map((id) => purger.purge(id));
    release();

    assert.equal(await first, 2);
    assert.deepEqual(await Promise.all(rest), [1, ...ids.slice(1).map(() => 2)], 'id-0 again: the entry written after scan 1 read the stream');
    assert.deepEqual(scans, [['id-0'], ids]);
    assert.equal((await scriptsRun()) - scriptsBefore, 2, 'one script per scan of this short stream');
    assert.deepEqual(await jobIdsOf(key), ['other']);
  } finally {
    await queue.close();
  }
});

test('a scan takes maxIdsPerScan ids at most, the rest wait for the next; requests for one id in one scan: the first told the count, the others 0', async () => {
  const queue = createExplainQueue({ connection, prefix: randomPrefix(), onError: () => {} });
  const key = queue.toKey('events');
  try {
    const ids = Array.from({ length: 10 }, (_, i) => `id-${i}`);
    for (const id of ids) await connection.xadd(key, '*', 'event', 'waiting', 'jobId', id);
    const scans: string[][] = [];
    const purger = new JobEventsPurger(
      (batch) => {
        scans.push([...batch]);
        return purgeJobsEvents(queue, batch);
      },
      { maxIdsPerScan: 4 },
    );
    const counts = await Promise.all([...ids, 'id-9'].map((id) => purger.purge(id)));
    assert.deepEqual(counts, [...ids.map(() => 1), 0]);
    assert.deepEqual(scans, [ids.slice(0, 4), ids.slice(4, 8), ids.slice(8)]);
    assert.equal(await connection.xlen(key), 0);
    assert.throws(() => new JobEventsPurger(async () => new Map(), { maxIdsPerScan: 0 }), RangeError);
  } finally {
    await queue.close();
  }
});

test("a failing scan rejects each of its waiters; requests made meanwhile, and later ones, get fresh scans", async () => {
  const queue = createExplainQueue({ connection, prefix: randomPrefix(), onError: () => {} });
  const key = queue.toKey('events');
  try {
    // Not a stream: Redis answers the scan's first script WRONGTYPE.
    await connection.set(key, 'not a stream');
    const { scans, scan, firstScanned, release } = heldFirstScan(queue);
    const purger = new JobEventsPurger(scan);
    const failing = [purger.purge('a'), purger.purge('b'), purger.purge('a')];
    await firstScanned;
    await connection.del(key);
    for (const id of ['a', 'c', 'b']) await connection.xadd(key, '*', 'event', 'waiting', 'jobId', id);
    const during = purger.purge('c');
    release();

    const outcomes = await Promise.allSettled(failing);
    assert.deepEqual(
      outcomes.map((outcome) => outcome.status),
      ['rejected', 'rejected', 'rejected'],
    );
    assert.equal(await during, 1);
    assert.equal(await purger.purge('a'), 1, 'a retry purges again');
    assert.deepEqual(scans, [['a', 'b'], ['c'], ['a']]);
    assert.deepEqual(await jobIdsOf(key), ['b']);
  } finally {
    await queue.close();
  }
});
