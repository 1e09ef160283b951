import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { redisKeys } from '@gradcam/contracts';
import type { OutageProxy } from '@gradcam/dev-services';
import type { Redis } from 'ioredis';
import { type IngestBehindProxy, type IngestHarness, createIngestBehindProxy } from './test-support/ingest-harness.ts';

// Redis failing in the middle of an accept: the request answers 503, and once Redis is back a
// retry is accepted at once, not refused 409 INFERENCE_IN_PROGRESS for the minute the failed
// request's claim would otherwise hold the id.

let env: IngestBehindProxy;
let h: IngestHarness;
let redis: Redis;
let proxy: OutageProxy;
before(async () => {
  env = await createIngestBehindProxy();
  ({ h, redis, proxy } = env);
});
after(() => env.close());

const post = (id: string) => env.post(id);

/** Retries as a client does on 409 and 503 (Retry-After: 1 s, here 0.5 s), up to `attempts`; the statuses seen. */
async function retried(id: string, attempts = 6): Promise<number[]> {
  const statuses: number[] = [];
  for (let attempt = 0; attempt < attempts; attempt++) {
    const response = await post(id);
    statuses.push(response.statusCode);
    if (response.statusCode !== 409 && response.statusCode !== 503) break;
    await sleep(500);
  }
  return statuses;
}

test('a connection lost while the record is in storage: 503, and once Redis is back the claim is given back, so a retry is accepted', async () => {
  const put = h.store.put.bind(h.store);
  let resume!: () => void;
  const stalled = new Promise<void>((r) => (resume = r));
  let reached!: () => void;
  const atStorage = new Promise<void>((r) => (reached = r));
  h.store.put = (async (...args: Parameters<typeof put>) => (reached(), await stalled, put(...args))) as typeof put;
  try {
    const answer = post('cut-1');
    await atStorage;
    proxy.cut();
    resume();
    assert.equal((await answer).statusCode, 503);
  } finally {
    h.store.put = put;
    proxy.restore();
  }
  const statuses = await retried('cut-1');
  assert.equal(statuses.at(-1), 202, `statuses ${statuses.join(', ')}; the id's key: ${await redis.get(redisKeys(h.queue.opts.prefix as string).inference('cut-1'))}`);
});

test('a claim that Redis ran after the request gave up on it (writes paused past the command timeout) is given back too', async () => {
  // The queue depth the app reads before the claim (a script, paused too) is cached for 250 ms.
  assert.equal((await post('before-pause-1')).statusCode, 202);
  await redis.call('CLIENT', 'PAUSE', '2500', 'WRITE');
  const response = await post('paused-1');
  assert.equal(response.statusCode, 503, response.body);
  await sleep(700); // the pause ends, and the claim runs
  const statuses = await retried('paused-1');
  assert.equal(statuses.at(-1), 202, `statuses ${statuses.join(', ')}`);
});
