import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError } from '@gradcam/config';
import { checkRedisAnswers } from './redis-ping.ts';

test('a REDIS_URL the Redis client cannot parse is a ConfigError naming REDIS_URL, not a TypeError', async () => {
  for (const [url, shown] of [
    ['redis:db.internal:6380', 'redis:db.internal:6380'],
    ['rediss://user:secret@[db.internal', 'rediss://user:***@[db.internal'],
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
