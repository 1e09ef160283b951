import { redisKeys } from '@gradcam/contracts';
import type { Redis } from 'ioredis';

/**
 * The model versions workers announced (see the worker's served-models.ts), cached briefly: a
 * lookup per record would cost a Redis round trip each, and versions change only on rollouts.
 */
export function servedModelVersions(redis: Redis, prefix: string, ttlMs = 2_000): (model: string) => Promise<string | undefined> {
  const key = redisKeys(prefix).servedModels;
  let cache: { at: number; versions: Promise<Record<string, string>> } | undefined;
  return async (model) => {
    if (!cache || Date.now() - cache.at > ttlMs) {
      const versions = redis.hgetall(key);
      cache = { at: Date.now(), versions };
      versions.catch(() => (cache = undefined));
    }
    return (await cache.versions)[model];
  };
}
