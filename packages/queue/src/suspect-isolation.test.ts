import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import { type RedisServer, startRedisServer } from '@gradcam/dev-services';
import type { Redis } from 'ioredis';
import { closeConnections, createProducerConnection } from './connections.ts';
import { createExplainQueue, enqueueExplainJobs } from './explain-queue.ts';
import { jobStalledCode, parseFailedReason } from './job-failure.ts';
import { explainJobFixture, randomPrefix } from './test-fixtures.ts';

// Real worker processes, killed for real: each run of the child is one worker's life.
const childPath = fileURLToPath(new URL('./suspect-isolation.child.ts', import.meta.url));

let redis: RedisServer;
let producer: Redis;
before(async () => {
  redis = await startRedisServer();
  producer = createProducerConnection(redis.url, { onError: () => {} });
});
after(async () => {
  await closeConnections(producer);
  await redis.stop();
});

test('a job that kills its worker fails JOB_STALLED alone: the jobs its worker held beside it complete', { timeout: 180_000 }, async () => {
  const prefix = randomPrefix();
  const queue = createExplainQueue({ connection: producer, prefix, onError: () => {} });
  try {
    // maxBatch 4, so a worker holds 8: the poison's batch-mates and the next batch filling.
    const ids = ['i0', 'i1', 'poison', 'i3', 'i4', 'i5', 'i6', 'i7', 'i8', 'i9', 'i10', 'i11'];
    await enqueueExplainJobs(queue, ids.map(explainJobFixture));
    const settled = async () => {
      const counts = await queue.getJobCounts('completed', 'failed');
      return (counts.completed ?? 0) + (counts.failed ?? 0) === ids.length;
    };
    const batches: string[][] = [];
    let crashes = 0;
    // The poison needs 1 + maxStalledCount (3) crashes to fail; a few more runs cannot hurt.
    for (let run = 0; run < 8 && !(await settled()); run++) {
      const child = spawn(process.execPath, ['--import', 'tsx', childPath, redis.url, prefix], { stdio: ['ignore', 'pipe', 'inherit'] });
      const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
      createInterface({ input: child.stdout }).on('line', (line) => batches.push(JSON.parse(line) as string[]));
      const outcome = await Promise.race([
        exited.then(([, signal]) => signal),
        (async () => {
          while (!(await settled())) await sleep(100);
          return 'settled' as const;
        })(),
      ]);
      if (outcome === 'settled') {
        child.kill('SIGTERM');
        await exited;
      } else {
        assert.equal(outcome, 'SIGKILL', 'the child only ever dies by the poison');
        crashes++;
      }
    }
    assert.ok(await settled(), `every job completed or failed (batches: ${JSON.stringify(batches)})`);
    const poison = await queue.getJob('poison');
    assert.equal(await poison?.getState(), 'failed');
    assert.equal(parseFailedReason(poison?.failedReason).code, jobStalledCode);
    for (const id of ids.filter((id) => id !== 'poison')) {
      const job = await queue.getJob(id);
      assert.equal(await job?.getState(), 'completed', `${id}: ${job?.failedReason} (batches: ${JSON.stringify(batches)})`);
      assert.ok((job?.stalledCounter ?? 0) <= 1, `${id} stalled only with the poison's first crash`);
    }
    // The first crash took the poison's batch-mates down with it; every later batch that held the poison held nothing else.
    const poisoned = batches.filter((batch) => batch.includes('poison'));
    assert.equal(crashes, poisoned.length);
    assert.equal(crashes, 4, `the poison ran 1 + maxStalledCount times (batches: ${JSON.stringify(batches)})`);
    assert.deepEqual(poisoned.slice(1), [['poison'], ['poison'], ['poison']]);
  } finally {
    await queue.close();
  }
});
