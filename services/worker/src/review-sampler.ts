import { type ReviewItem, type ReviewSampling, redisKeys } from '@gradcam/contracts';
import type { ReviewPool } from '@gradcam/review-pool';
import { type ReviewInput, decideReview, parseReviewPolicy } from '@gradcam/sampling';
import type { Redis } from 'ioredis';

const minuteMs = 60_000;
/** The fleet-wide traffic is summed over this many whole minutes. */
const trafficMinutes = 10;

export interface ReviewSampler {
  decide(input: ReviewInput): ReviewSampling;
  /** After the manifest is stored: count the decision, count the traffic, queue sampled items. */
  recorded(decision: ReviewSampling, item: ReviewItem): Promise<void>;
  close(): void;
}

/**
 * Reviewer sampling inside a worker process. Every worker sees only its share of the traffic,
 * so the budget policy adapts to the fleet-wide rate: each stored explanation is counted per
 * model and minute in Redis, and the sum of the last minutes, refreshed in the background, is
 * the rate the policy divides its budget by.
 */
export function createReviewSampler(options: { policy: string; redis: Redis; prefix: string; pool: ReviewPool }): ReviewSampler {
  const { redis, pool } = options;
  const keys = redisKeys(options.prefix);
  const fleetRate = new Map<string, number>();
  const refresh = async () => {
    const minute = Math.floor(Date.now() / minuteMs);
    for (const model of fleetRate.keys()) {
      // The current minute is partial: use the previous whole minutes.
      const counts = await redis.mget(Array.from({ length: trafficMinutes }, (_, i) => keys.reviewTraffic(model, minute - 1 - i)));
      const total = counts.reduce((sum, c) => sum + Number(c ?? 0), 0);
      if (total > 0) fleetRate.set(model, (total / trafficMinutes) * 60);
    }
  };
  const timer = setInterval(() => void refresh().catch(() => undefined), 10_000);
  timer.unref();
  const policy = parseReviewPolicy(options.policy, {
    trafficRate: (model) => {
      if (!fleetRate.has(model)) fleetRate.set(model, 0);
      const rate = fleetRate.get(model);
      // No fleet figure yet (a fresh deployment): the policy falls back on its own estimate.
      return rate === undefined || rate === 0 ? undefined : rate;
    },
  });
  return {
    decide: (input) => decideReview(policy, input),
    async recorded(decision, item) {
      const minute = Math.floor(item.sampledAt / minuteMs);
      const traffic = keys.reviewTraffic(item.model, minute);
      const write = redis
        .multi()
        .incr(traffic)
        .expire(traffic, (trafficMinutes + 2) * 60)
        .hincrby(keys.reviewDecisions, `${item.model}|${decision.sampled ? 'review' : 'skip'}|${decision.reason}`, 1);
      if (decision.threshold !== undefined) write.hset(keys.reviewThresholds, item.model, String(decision.threshold));
      await write.exec();
      if (decision.sampled) await pool.add(item);
    },
    close: () => clearInterval(timer),
  };
}
