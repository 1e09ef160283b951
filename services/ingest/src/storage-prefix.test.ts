import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { ConfigError, readIngestConfig } from '@gradcam/config';
import { redisKeys } from '@gradcam/contracts';
import { type RedisServer, startRedisServer } from '@gradcam/dev-services';
import { assertValidKey } from '@gradcam/storage';
import { auth, createIngestHarness } from './test-support/ingest-harness.ts';

// Config caps GRADCAM_STORAGE_PREFIX by the longest key a record can lead to; checked here
// against the storage package's own key rules and a real upload.

const photo = readFileSync(new URL('../../../test/fixtures/images/sheep-pastoral.jpg', import.meta.url));
const env = { REDIS_URL: 'redis://127.0.0.1:1', GRADCAM_API_TOKENS: 'token-aaaaaaaaaaaaaaaa', GRADCAM_HOST: '127.0.0.1' };
/** A prefix of `length` characters in folders of 99. */
const prefixOf = (length: number) => Array.from({ length }, (_, i) => (i % 100 === 99 ? '/' : 'p')).join('');

/** The longest prefix config accepts, as its refusal of a longer one states it. */
function longestPrefixAccepted(): number {
  try {
    readIngestConfig({ ...env, GRADCAM_STORAGE_PREFIX: prefixOf(1000) });
  } catch (error) {
    assert.ok(error instanceof ConfigError);
    return Number(/at most (\d+) characters/.exec(error.message)?.[1]);
  }
  assert.fail('a 1000-character prefix was accepted');
}

let redis: RedisServer;
before(async () => {
  redis = await startRedisServer();
});
after(() => redis.stop());

test('at the longest prefix config accepts, a record with the longest names and id is stored, and its longest artifact key is a valid key', async () => {
  const length = longestPrefixAccepted();
  const prefix = readIngestConfig({ ...env, GRADCAM_STORAGE_PREFIX: prefixOf(length) }).storage.prefix;
  assert.equal(prefix.length, length);
  const h = await createIngestHarness({ redisUrl: redis.url, storagePrefix: prefix });
  try {
    const [model, version, id] = ['m'.repeat(64), 'v'.repeat(64), 'i'.repeat(128)];
    await h.redis.hset(redisKeys(h.queue.opts.prefix as string).servedModels, { [model]: version });
    const response = await h.app.inject({ method: 'POST', url: '/v1/inferences', headers: auth, payload: { id, model: { name: model }, image: { base64: photo.toString('base64') } } });
    assert.equal(response.statusCode, 202, response.body);
    const folder = (await h.queue.getJob(id))?.data.folder as string;
    // The worker's longest name: artifactStem('gradcam++', Number.MAX_SAFE_INTEGER) + '.overlay.jpg'.
    const overlay = `gradcampp-${Number.MAX_SAFE_INTEGER}.overlay.jpg`;
    assert.doesNotThrow(() => assertValidKey(`${folder}${overlay}`));
    assert.throws(() => assertValidKey(`x${folder}${overlay}`), /longer than 1024 bytes/, 'one more character of prefix would not fit');
  } finally {
    await h.close();
  }
});
