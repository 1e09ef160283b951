import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import type { ReviewItem } from '@gradcam/contracts';
import { startRedisWithClient } from '@gradcam/dev-services';
import { ReviewPool } from '@gradcam/review-pool';
import { PoissonArrivals, reviewInput, seededRandom, syntheticPrediction } from '@gradcam/sampling/testing';
import { createReviewSampler } from './review-sampler.ts';

const { redis, stop } = await startRedisWithClient();
after(stop);

const minute = 60_000;

/**
 * Workers started together on one Redis, sharing Poisson traffic round robin on a simulated
 * clock, each recording its decisions and refreshing the fleet's rate and thresholds every 10 s
 * (as the worker's timer does). Reviews per simulated minute.
 */
async function runFleet(workers: number, perHour: number, k: number, minutes: number, seed: number): Promise<number[]> {
  const prefix = `fleet${Math.random().toString(36).slice(2, 10)}`;
  const start = Date.UTC(2026, 10, 27, 12, 0, 30);
  let now = start;
  const samplers = Array.from({ length: workers }, () => createReviewSampler({ policy: `budget=${k}`, redis, prefix, pool: new ReviewPool(redis, prefix), now: () => now }));
  const random = seededRandom(seed);
  const arrivals = new PoissonArrivals([{ name: 'steady', durationMs: minutes * minute, perHour }], random, start);
  const reviews = new Array<number>(minutes).fill(0);
  let nextRefresh = start + 10_000;
  try {
    let i = 0;
    for (let at = arrivals.next(); at !== undefined; at = arrivals.next(), i++) {
      for (; at >= nextRefresh; nextRefresh += 10_000) {
        now = nextRefresh;
        await Promise.all(samplers.map((s) => s.refreshFleetRate()));
      }
      now = Math.round(at);
      const sampler = samplers[i % workers] as (typeof samplers)[number];
      const { predictedClass, probabilities } = syntheticPrediction(random);
      const id = `req-${i}`;
      const decision = sampler.decide(reviewInput({ id, model: 'm', predictedClass, probabilities, now }));
      const item: ReviewItem = { inferenceId: id, model: 'm', modelVersion: 'v1', folder: `m/v1/dt=2026-11-27/${id}/`, predictedClass, label: String(predictedClass), probability: probabilities[predictedClass] ?? 0, sampling: decision, sampledAt: now, status: 'pending' };
      await sampler.recorded(decision, item);
      if (decision.sampled) reviews[Math.floor((now - start) / minute)]! += 1;
    }
  } finally {
    for (const s of samplers) s.close();
  }
  return reviews;
}

test('a fleet starting together reviews about K once its first minutes are past, not the few that beat the highest priority it has seen', async () => {
  // Each young worker raises its threshold to the fleet's recorded one. Recording the raised one
  // passed each rise on to the next worker, so while the workers were young (here ~20 minutes:
  // each sees an eighth of the traffic) the fleet's threshold only went up: 0-8 reviews in
  // minutes 5-20 where K allows 30 (seeds 1-4), 25-35 now that each worker records the threshold
  // its own histogram places.
  const k = 120;
  for (const seed of [1, 2]) {
    const reviews = await runFleet(8, 36_000, k, 20, seed);
    const settled = reviews.slice(5).reduce((a, b) => a + b, 0);
    const expected = (k * 15) / 60;
    assert.ok(settled >= 0.5 * expected && settled <= 1.6 * expected, `seed ${seed}: ${settled} reviews in minutes 5-20 (K: ${expected}); per minute ${reviews.join(' ')}`);
  }
});
