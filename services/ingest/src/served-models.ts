import { redisKeys } from '@gradcam/contracts';
import { QueueUnavailableError } from '@gradcam/queue';
import type { Redis } from 'ioredis';
import { cachedFor } from './cached-for.ts';

/**
 * The model versions workers announced (see the worker's served-models.ts), cached briefly: a
 * lookup per record would cost a Redis round trip each, and versions change only on rollouts.
 */
export function servedModelVersions(redis: Redis, prefix: string, ttlMs = 2_000): (model: string) => Promise<string | undefined> {
  const key = redisKeys(prefix).servedModels;
  const versions = cachedFor(ttlMs, () =>
    redis.hgetall(key).catch((error: unknown) => {
      throw new QueueUnavailableError(`could not read the served model versions: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    }),
  );
  return async (model) => (await versions())[model];
}
