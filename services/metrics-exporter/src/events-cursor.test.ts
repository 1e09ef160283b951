import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import { freePort } from '@gradcam/dev-services';
import { closeConnection, createProducerConnection } from '@gradcam/queue';
import { EventsCursor } from './events-cursor.ts';
import { usePrivateRedis } from './test-support/private-redis.ts';

const rig = usePrivateRedis();

const cursorFor = (key: string, options: { saveIntervalMs?: number; onSaveError?: (error: unknown) => void } = {}) =>
  new EventsCursor({ redis: rig.redis, key, start: '1-0', onSaveError: options.onSaveError ?? ((error) => assert.fail(String(error))), ...options });

async function setCalls(): Promise<number> {
  return Number(/cmdstat_set:calls=(\d+)/.exec(await rig.redis.info('commandstats'))?.[1] ?? 0);
}

test('the cursor saves what the last scrape covered: not events counted after it, nor past a failure still being counted', async () => {
  const key = `cursor-${randomUUID()}`;
  const cursor = cursorFor(key);
  cursor.counted('2-0');
  const failureCounted = cursor.begin('3-0');
  cursor.counted('4-0');
  cursor.scraped();
  await cursor.close();
  assert.equal(await rig.redis.get(key), '2-0', 'the scrape rendered before 3-0 was counted, so neither it nor 4-0 is covered');

  const next = cursorFor(key);
  next.counted('2-0');
  const done = next.begin('3-0');
  next.counted('4-0');
  done();
  done(); // twice: no harm
  next.scraped();
  next.counted('5-0'); // counted, never scraped: the next exporter counts it again
  await next.close();
  await next.close();
  assert.equal(await rig.redis.get(key), '4-0');
  failureCounted();
});

test('saves are throttled while scrapes come, and nothing is written before a scrape moves the cursor', async () => {
  const key = `cursor-${randomUUID()}`;
  const cursor = cursorFor(key, { saveIntervalMs: 200 });
  const before = await setCalls();
  cursor.scraped(); // nothing counted since the start, which is saved already
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(await setCalls(), before);
  const started = Date.now();
  for (let n = 2; n < 100; n++) {
    cursor.counted(`${n}-0`);
    cursor.scraped();
    if (n % 10 === 0) await new Promise((r) => setTimeout(r, 10));
  }
  const scrapingMs = Date.now() - started;
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(await rig.redis.get(key), '99-0');
  const writes = (await setCalls()) - before;
  // One at once, then at most one per 200 ms, the last one after the scrapes stopped.
  assert.ok(writes >= 1 && writes <= 2 + Math.ceil(scrapingMs / 200), `${writes} SETs for 98 scrapes over ${scrapingMs} ms`);
  await cursor.close();
  assert.equal((await setCalls()) - before, writes, 'close writes nothing when the last scrape is saved');
});

test('while Redis is down a save fails at once, is reported once, and never rejects', async () => {
  const down = createProducerConnection(`redis://127.0.0.1:${await freePort()}`, { onError: () => {} });
  const errors: unknown[] = [];
  const cursor = new EventsCursor({ redis: down, key: 'k', start: '1-0', saveIntervalMs: 0, onSaveError: (error) => errors.push(error) });
  try {
    const started = Date.now();
    for (let n = 2; n < 5; n++) {
      cursor.counted(`${n}-0`);
      cursor.scraped();
      await new Promise((r) => setTimeout(r, 20));
    }
    await cursor.close();
    assert.ok(Date.now() - started < 1_000, 'no save waited for Redis');
    assert.equal(errors.length, 1);
    assert.match(String(errors[0]), /enableOfflineQueue|Connection is closed|ECONNREFUSED/);
  } finally {
    await closeConnection(down);
  }
});
