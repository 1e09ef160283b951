import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { tokenFingerprint } from '@gradcam/auth';
import { redisKeys } from '@gradcam/contracts';
import { freePort, startRedisServer, startServiceMain } from '@gradcam/dev-services';
import { Redis } from 'ioredis';

const photo = readFileSync(new URL('../../../test/fixtures/images/sheep-pastoral.jpg', import.meta.url));

// Ingest's composition root, run as in production: its one log line per erasure is written there.

test('the log line of an erasure names the erase token that asked (its fingerprint, as the erasure record does), never the token', { timeout: 60_000 }, async () => {
  const redis = await startRedisServer();
  const storageDir = await mkdtemp(join(tmpdir(), 'ingest-erasure-log-'));
  const port = await freePort();
  const apiToken = 'ingest-main-test-token-0123456789';
  const eraseToken = 'ingest-main-erase-token-0123456789';
  const client = new Redis(redis.url);
  await client.hset(redisKeys('erasure-log').servedModels, { 'nsfw-mobilenet-v2': 'nsfwjs-4.4.0' });
  const ingest = startServiceMain('services/ingest/src/main.ts', {
    ...process.env,
    REDIS_URL: redis.url,
    GRADCAM_HOST: '127.0.0.1',
    GRADCAM_INGEST_PORT: String(port),
    GRADCAM_API_TOKENS: apiToken,
    GRADCAM_ERASE_TOKENS: eraseToken,
    GRADCAM_QUEUE_PREFIX: 'erasure-log',
    GRADCAM_STORAGE_DIR: storageDir,
    LOG_LEVEL: 'info',
  });
  try {
    const url = `http://127.0.0.1:${port}`;
    await ingest.untilReady(`${url}/readyz`);
    const record = { id: 'logged-erasure', model: { name: 'nsfw-mobilenet-v2' }, image: { base64: photo.toString('base64') } };
    const posted = await fetch(`${url}/v1/inferences`, { method: 'POST', headers: { authorization: `Bearer ${apiToken}`, 'content-type': 'application/json' }, body: JSON.stringify(record) });
    assert.equal(posted.status, 202, await posted.text());
    const erased = await fetch(`${url}/v1/inferences/logged-erasure`, { method: 'DELETE', headers: { authorization: `Bearer ${eraseToken}` } });
    assert.equal(erased.status, 200, await erased.text());
    await ingest.untilOutput('inference erased');
    const line = ingest.output().split('\n').find((l) => l.includes('inference erased')) as string;
    const logged = JSON.parse(line) as Record<string, unknown>;
    assert.equal(logged.inferenceId, 'logged-erasure');
    assert.equal(logged.erasedBy, tokenFingerprint(eraseToken));
    assert.ok(!ingest.output().includes(eraseToken), 'never the token');
  } finally {
    await ingest.stop();
    client.disconnect();
    await redis.stop();
    await rm(storageDir, { recursive: true, force: true });
  }
});
