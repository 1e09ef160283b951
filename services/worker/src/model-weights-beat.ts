import { liveModelKeptMs, liveModelWeightsMember, modelLiveness, parseLiveModelWeightsMember, redisKeys, shortWeightsSha256 as short } from '@gradcam/contracts';
import type { Redis } from 'ioredis';

/** One model this worker serves: its version (a label) and the sha256 of the weights behind it. */
export interface ServedWeights {
  readonly model: string;
  readonly version: string;
  readonly weightsSha256: string;
}

/** A `model@version` this worker serves with other weights than a live worker does. */
export interface WeightsConflict extends ServedWeights {
  /** The other live hashes under the same version (another worker's, or this worker's before a restart). */
  readonly others: readonly string[];
}

export interface ModelWeightsBeatOptions {
  /** Told once per conflicting version, after the first beat. */
  readonly onConflict: (conflict: WeightsConflict) => void;
  readonly onError: (error: Error) => void;
  /** How long after its last beat a hash counts as gone (default: the liveness expiry). */
  readonly expiryMs?: number;
}

/**
 * Keeps saying which weights this worker serves each of its versions with, beside the liveness beat
 * and at its pace: every beat raises the last-seen time of `model@version#weightsSha256` (ZADD GT,
 * as the liveness), trims members unseen for 10 expiries and sets the key to expire 10 expiries
 * after it. The first beat also reads, in the same transaction, the hashes live under the versions
 * it serves: any other than its own is a conflict (two models explained under one label), told
 * through `onConflict`. The worker goes on serving: refusing would take a whole fleet down during a
 * hot-fix rolled out under the old label; the operator gives the new weights a new version.
 * Workers that start at once still see each other: the second transaction sees the first's entry.
 */
export function beatModelWeights(redis: Redis, prefix: string, served: readonly ServedWeights[], options: ModelWeightsBeatOptions): { readonly firstBeat: Promise<void>; stop(): void } {
  const key = redisKeys(prefix).liveModelWeights;
  const expiryMs = options.expiryMs ?? modelLiveness.expiryMs;
  const keptMs = liveModelKeptMs(expiryMs);
  const failed = (error: unknown) => options.onError(new Error(`model weights heartbeat failed: ${error instanceof Error ? error.message : String(error)}`));
  const beat = async (first: boolean): Promise<void> => {
    if (served.length === 0) return;
    const now = Date.now();
    const write = redis
      .multi()
      .zadd(key, 'GT', ...served.flatMap((s) => [now, liveModelWeightsMember(s.model, s.version, s.weightsSha256)]))
      .zremrangebyscore(key, '-inf', `(${now - keptMs}`)
      .pexpire(key, keptMs);
    if (!first) return void write.exec().catch(failed);
    await write
      .zrangebyscore(key, now - expiryMs, '+inf')
      .exec()
      .then((replies) => {
        const error = replies?.find(([e]) => e !== null)?.[0];
        if (error) throw error;
        const live = (replies?.at(-1)?.[1] ?? []) as string[];
        for (const conflict of conflicts(served, live)) options.onConflict(conflict);
      })
      .catch(failed);
  };
  // Never rejects: a failed beat is told through onError.
  const firstBeat = beat(true);
  const timer = setInterval(() => void beat(false), modelLiveness.heartbeatMs);
  timer.unref();
  return { firstBeat, stop: () => clearInterval(timer) };
}

/** The served versions under which `live` members hold another hash than this worker's. */
function conflicts(served: readonly ServedWeights[], live: readonly string[]): WeightsConflict[] {
  const parsed = live.map(parseLiveModelWeightsMember);
  return served.flatMap((own) => {
    const others = [...new Set(parsed.filter((p) => p?.model === own.model && p.version === own.version && p.weightsSha256 !== own.weightsSha256).map((p) => p?.weightsSha256 ?? ''))].sort();
    return others.length === 0 ? [] : [{ ...own, others }];
  });
}

/** The error line a conflict is logged as: the version and both hashes (short), and what to do. */
export const weightsConflictMessage = (c: WeightsConflict) =>
  `${c.model}@${c.version} is served with other weights by live workers: this worker's are ${short(c.weightsSha256)}, theirs ${c.others.map(short).join(', ')}; ` +
  `explanations of ${c.model}@${c.version} now come from ${c.others.length + 1} different models (each manifest's model.weightsSha256 tells which). Serving it anyway; give new weights a new version`;
