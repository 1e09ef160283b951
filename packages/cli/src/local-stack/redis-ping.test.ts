import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError } from '@gradcam/config';
import { checkRedisAnswers, redactedRedisUrl } from './redis-ping.ts';

test('a REDIS_URL the Redis client cannot parse is a ConfigError naming REDIS_URL, not a TypeError', async () => {
  for (const [url, shown] of [
    ['redis:db.internal:6380', 'redis:db.internal:6380'],
    ['rediss://user:secret@[db.internal', 'rediss://***@[db.internal'],
  ]) {
    await assert.rejects(checkRedisAnswers(url as string), (error: unknown) => {
      assert.ok(error instanceof ConfigError, `${url}: ${String(error)}`);
      assert.equal(error.variable, 'REDIS_URL');
      assert.equal(error.message, `REDIS_URL: ${shown} is not a URL the Redis client can parse (Invalid URL); write it as redis://[:password@]host[:port][/db]`);
      assert.doesNotMatch(error.message, /secret/);
      return true;
    });
  }
});

test('messages show a REDIS_URL without its password', () => {
  assert.equal(redactedRedisUrl('redis://:secret@127.0.0.1:6380/2'), 'redis://:***@127.0.0.1:6380/2');
  assert.equal(redactedRedisUrl('rediss://user:secret@db.internal'), 'rediss://user:***@db.internal');
  assert.equal(redactedRedisUrl('redis://db.internal:6380'), 'redis://db.internal:6380');
  assert.equal(redactedRedisUrl('rediss://user:secret@[bad'), 'rediss://***@[bad');
});
