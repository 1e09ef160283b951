import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import { ExporterPresence } from './exporter-presence.ts';
import { usePrivateRedis } from './test-support/private-redis.ts';

const rig = usePrivateRedis();

interface Change {
  readonly others: readonly string[];
  readonly all: number;
}

function presenceOn(key: string, changes: Change[], beatMs?: number): ExporterPresence {
  return new ExporterPresence({
    redis: rig.redis,
    key,
    ...(beatMs === undefined ? {} : { beatMs }),
    onChange: (others, all) => changes.push({ others, all }),
    onError: (error) => assert.fail(error),
  });
}

async function until<T>(what: string, check: () => Promise<T | undefined>): Promise<T> {
  for (let tries = 0; tries < 300; tries++) {
    const found = await check();
    if (found !== undefined) return found;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`gave up waiting for ${what}`);
}

test('the member a killed exporter left behind is neither counted nor told by the exporter that replaces it', async () => {
  const key = `instances-${randomUUID()}`;
  // What an exporter killed (OOM, SIGKILL, a crash) leaves: its last beat, a few seconds before
  // its replacement starts, which it never removes.
  await rig.redis.zadd(key, Date.now() - 5_000, 'host pid 1 killed00');
  const changes: Change[] = [];
  const presence = presenceOn(key, changes);
  try {
    presence.start();
    await until('its first beat', async () => ((await rig.redis.zscore(key, presence.id)) === null ? undefined : true));
    // It said "2 metrics exporters run on this queue" (an error) and counted 2 for up to 30 s
    // after every crash and restart, naming a process that no longer exists.
    assert.equal(await presence.count(Date.now()), 1);
    assert.deepEqual(changes, []);
  } finally {
    await presence.close();
  }
});

test('another exporter heard from after this one started is counted and told; this one counts itself from its start', async () => {
  const key = `instances-${randomUUID()}`;
  const changes: Change[] = [];
  const presence = presenceOn(key, changes, 50);
  try {
    // Running, though not yet beaten (or its member lost to a flushed Redis): still one exporter, not 0.
    assert.equal(await presence.count(Date.now()), 1);
    presence.start();
    await rig.redis.zadd(key, Date.now() + 1, 'host pid 2 other000');
    const told = await until('the other exporter to be told', async () => changes[0]);
    assert.deepEqual(told, { others: ['host pid 2 other000'], all: 2 });
    assert.equal(await presence.count(Date.now()), 2);
  } finally {
    await presence.close();
  }
});
