import { modelLiveness, parseLiveModelVersionMember, redisKeys } from '@gradcam/contracts';
import { redisCall } from '@gradcam/queue';
import type { Redis } from 'ioredis';
import { cachedFor } from './cached-for.ts';

/** What workers said about the models they serve. */
export interface ServedModels {
  /** Model name → the version the last worker to start announced (see the worker's served-models.ts). */
  readonly announced: Readonly<Record<string, string>>;
  /** Model name → the versions some live worker serves, least recently heard of first. */
  readonly live: ReadonlyMap<string, readonly string[]>;
}

/**
 * The served models, cached briefly: a lookup per record would cost a Redis round trip each, and
 * versions change only on rollouts.
 */
export function servedModels(redis: Redis, prefix: string, ttlMs = 2_000, expiryMs: number = modelLiveness.expiryMs): () => Promise<ServedModels> {
  const keys = redisKeys(prefix);
  return cachedFor(ttlMs, async () => {
    const [announced, members] = await redisCall('could not read the served model versions', () =>
      Promise.all([redis.hgetall(keys.servedModels), redis.zrangebyscore(keys.liveModelVersions, Date.now() - expiryMs, '+inf')]),
    );
    const live = new Map<string, string[]>();
    for (const member of members) {
      const parsed = parseLiveModelVersionMember(member);
      if (parsed) live.set(parsed.model, [...(live.get(parsed.model) ?? []), parsed.version]);
    }
    return { announced, live };
  });
}
