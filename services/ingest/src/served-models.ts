import { redisKeys } from '@gradcam/contracts';
import { redisCall } from '@gradcam/queue';
import type { Redis } from 'ioredis';
import { cachedFor } from './cached-for.ts';

/**
 * The model versions workers announced (see the worker's served-models.ts), cached briefly: a
 * lookup per record would cost a Redis round trip each, and versions change only on rollouts.
 */
export function servedModelVersions(redis: Redis, prefix: string, ttlMs = 2_000): (model: string) => Promise<string | undefined> {
  const key = redisKeys(prefix).servedModels;
  const versions = cachedFor(ttlMs, () => redisCall('could not read the served model versions', () => redis.hgetall(key)));
  return async (model) => (await versions())[model];
}
