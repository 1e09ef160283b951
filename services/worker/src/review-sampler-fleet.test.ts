import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import type { ReviewItem, ReviewSampling } from '@gradcam/contracts';
import { startRedisWithClient } from '@gradcam/dev-services';
import { ReviewPool } from '@gradcam/review-pool';
import { PoissonArrivals, type TrafficPhase, reviewInput, seededRandom, syntheticPrediction } from '@gradcam/sampling/testing';
import { createReviewSampler } from './review-sampler.ts';

const { redis, stop } = await startRedisWithClient();
after(stop);

const minute = 60_000;

type Sampler = ReturnType<typeof createReviewSampler>;

/** One event of model m, with a synthetic prediction, decided and recorded by `sampler` at `now`: the decision and the predicted class. */
async function offerEvent(sampler: Sampler, id: string, now: number, random: () => number): Promise<{ decision: ReviewSampling; predictedClass: number }> {
  const { predictedClass, probabilities } = syntheticPrediction(random);
  // As the worker does before deciding a batch (explain-batch.ts): earlier decisions, and the
  // fleet's traffic of a model this process has not read yet.
  await sampler.earlier([id], ['m']);
  const decision = sampler.decide(reviewInput({ id, model: 'm', predictedClass, probabilities, now }));
  const item: ReviewItem = { inferenceId: id, model: 'm', modelVersion: 'v1', folder: `m/v1/dt=2026-11-27/${id}/`, predictedClass, label: String(predictedClass), probability: probabilities[predictedClass] ?? 0, sampling: decision, sampledAt: now, status: 'pending' };
  await sampler.recorded(decision, item);
  return { decision, predictedClass };
}

/**
 * Workers started together on one Redis, sharing Poisson traffic (in phases) round robin on a
 * simulated clock, each recording its decisions and refreshing the fleet's rate and thresholds
 * every 10 s (as the worker's timer does). Reviews per simulated minute (or per `tallyMs`).
 */
async function runFleet(
  workers: number,
  phases: readonly TrafficPhase[],
  k: number,
  seed: number,
  tallyMs = minute,
  options: { policy?: string; onReview?: (decision: ReviewSampling, predictedClass: number, at: number) => void } = {},
): Promise<number[]> {
  const prefix = `fleet${Math.random().toString(36).slice(2, 10)}`;
  const start = Date.UTC(2026, 10, 27, 12, 0, 30);
  const tallies = Math.ceil(phases.reduce((sum, phase) => sum + phase.durationMs, 0) / tallyMs);
  let now = start;
  const policy = options.policy ?? `budget=${k}`;
  const samplers = Array.from({ length: workers }, () => createReviewSampler({ policy, redis, prefix, pool: new ReviewPool(redis, prefix), now: () => now }));
  const random = seededRandom(seed);
  const arrivals = new PoissonArrivals(phases, random, start);
  const reviews = new Array<number>(tallies).fill(0);
  let nextRefresh = start + 10_000;
  try {
    let i = 0;
    for (let at = arrivals.next(); at !== undefined; at = arrivals.next(), i++) {
      for (; at >= nextRefresh; nextRefresh += 10_000) {
        now = nextRefresh;
        await Promise.all(samplers.map((s) => s.refreshFleetRate()));
      }
      now = Math.round(at);
      const { decision, predictedClass } = await offerEvent(samplers[i % workers] as Sampler, `req-${i}`, now, random);
      if (!decision.sampled) continue;
      reviews[Math.floor((now - start) / tallyMs)]! += 1;
      options.onReview?.(decision, predictedClass, now - start);
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
    const reviews = await runFleet(8, [{ name: 'steady', durationMs: 20 * minute, perHour: 36_000 }], k, seed);
    const settled = reviews.slice(5).reduce((a, b) => a + b, 0);
    const expected = (k * 15) / 60;
    assert.ok(settled >= 0.5 * expected && settled <= 1.6 * expected, `seed ${seed}: ${settled} reviews in minutes 5-20 (K: ${expected}); per minute ${reviews.join(' ')}`);
  }
});

test('a fleet whose histograms stay young reviews about K, not about half of it', async (t) => {
  // 16 workers at 36,000 events/h and K = 10/h: each worker's histogram expects fewer than 5
  // events above its threshold for about 8 hours, so it takes the fleet's recorded threshold
  // where higher. Every worker recorded its own, young as well: the higher of two equally noisy
  // thresholds, and the fleet reviewed 21-25 in 4 hours where K allows 40 (seeds 1-2). Only
  // thresholds a histogram places itself are recorded now: 37-39.
  const k = 10;
  for (const seed of [1, 2]) {
    const reviews = await runFleet(16, [{ name: 'steady', durationMs: 240 * minute, perHour: 36_000 }], k, seed);
    const total = reviews.reduce((a, b) => a + b, 0);
    const what = `seed ${seed}: ${total} reviews in 4 hours (K: ${4 * k}); per hour ${[0, 1, 2, 3].map((h) => reviews.slice(h * 60, h * 60 + 60).reduce((a, b) => a + b, 0)).join(' ')}`;
    t.diagnostic(what);
    assert.ok(total >= 0.8 * 4 * k && total <= 1.3 * 4 * k, what);
  }
});

test("a fleet starting together reads the fleet's rate from its first refresh, not each worker's part of the traffic", async (t) => {
  // Until a whole minute holds traffic there is no fleet rate, and the first one holds only the
  // part after the fleet started: each worker read its part as the fleet's (a share 16 times
  // K's), then the first minute's count as a whole minute's. 16 workers, K = 120/h: 17-19 reviews
  // from the first refresh (10 s) to 2 minutes (seeds 1-2) where K allows 3.7. Now the fleet's
  // count in the current and previous minute over the worker's own scales its own estimate: 2-7.
  // The first 10 s (before any refresh: each worker alone, its histogram young) are not counted.
  const k = 120;
  for (const seed of [1, 2]) {
    const tenths = await runFleet(16, [{ name: 'steady', durationMs: 2 * minute, perHour: 36_000 }], k, seed, 10_000);
    const after = tenths.slice(1).reduce((a, b) => a + b, 0);
    const what = `seed ${seed}: ${after} reviews from 10 s to 2 min (K: 3.7); per 10 s ${tenths.join(' ')}`;
    t.diagnostic(what);
    assert.ok(after <= 8, what);
  }
});

test('a fleet starting together reviews about K from its first seconds, not a share of K/120 per event each worker saw', async (t) => {
  // Before a whole minute holds the fleet's traffic, each young worker read its own first events
  // over its window's first bucket (30 s): the n-th as n per 30 s, a share of K/(120·n), whatever
  // the fleet. 16 workers at 36,000 events/h, K = 120/h: 39-41 reviews in the first 10 s (seeds
  // 1-2) where K allows 0.3, 41-43 in the first 2 minutes where K allows 4; 48 workers: 224-228 in
  // their first hour. Now a young fleet is read by its own count (the events after its first, over
  // the time since), from each worker's first batch.
  const k = 120;
  for (const seed of [1, 2]) {
    const tenths = await runFleet(16, [{ name: 'steady', durationMs: 2 * minute, perHour: 36_000 }], k, seed, 10_000);
    const total = tenths.reduce((a, b) => a + b, 0);
    const what = `16 workers, seed ${seed}: ${tenths[0]} reviews in the first 10 s (K: 0.3), ${total} in 2 minutes (K: 4); per 10 s ${tenths.join(' ')}`;
    t.diagnostic(what);
    assert.ok((tenths[0] as number) <= 4 && total <= 12, what);
  }
  for (const seed of [1, 2]) {
    const reviews = await runFleet(48, [{ name: 'steady', durationMs: 60 * minute, perHour: 36_000 }], k, seed);
    const total = reviews.reduce((a, b) => a + b, 0);
    const what = `48 workers, seed ${seed}: ${total} reviews in the first hour (K: ${k}), ${reviews.slice(0, 2).reduce((a, b) => a + b, 0)} in its first 2 minutes; per 10 min ${[0, 1, 2, 3, 4, 5].map((h) => reviews.slice(h * 10, h * 10 + 10).reduce((a, b) => a + b, 0)).join(' ')}`;
    t.diagnostic(what);
    assert.ok(total >= 0.7 * k && total <= 1.5 * k, what);
  }
});

test('a fleet back from a pause longer than the window reviews about K, not a review per worker and K per worker each time', async (t) => {
  // 45 minutes of 36,000 explanations/h, then 15 without, every hour. Traffic back after the
  // pause found no whole minute of it in the fleet's window, so every worker fell back on its own
  // estimate: its first event back read as one per quiet spell (6/h, a share of K/6: reviewed),
  // the next ones as its own part of the traffic (a share P times the fleet's) until the window
  // held a minute of it. 16 workers reviewed 27-34 in the 3 minutes after each pause where K
  // allows 0.5, and 3.3-4.0 × K an hour after the first pause (seeds 1-2). The level the fleet
  // last flowed at now stands for its rate until the traffic back spans two whole minutes: 0-1
  // after each pause, 0.4-0.9 × K, as such a fleet reviews with traffic all hour (0.4-0.9 × K at
  // K = 10/h: its workers' histograms stay young).
  const k = 10;
  const phases = Array.from({ length: 3 }, () => [
    { name: 'on', durationMs: 45 * minute, perHour: 36_000 },
    { name: 'off', durationMs: 15 * minute, perHour: 1e-9 },
  ]).flat();
  for (const seed of [1, 2]) {
    const reviews = await runFleet(16, phases, k, seed);
    // From the first pause's end (hours 2-3): the fleet's start is the first test's matter.
    const afterPauses = reviews.slice(60).reduce((a, b) => a + b, 0);
    const backs = [60, 120].map((at) => reviews.slice(at, at + 3).reduce((a, b) => a + b, 0));
    const what = `seed ${seed}: ${afterPauses} reviews in hours 2-3 (K: ${2 * k}), ${backs.join(' ')} in the 3 minutes after each pause; per hour ${[0, 1, 2].map((h) => reviews.slice(h * 60, h * 60 + 60).reduce((a, b) => a + b, 0)).join(' ')}`;
    t.diagnostic(what);
    assert.ok(afterPauses >= 0.2 * 2 * k && afterPauses <= 1.5 * 2 * k, what);
    for (const back of backs) assert.ok(back <= 4, what);
  }
});

test('a worker back from a pause at ten times the level it left at reads its own count, not the level', async (t) => {
  // The level stands for the fleet's rate until the traffic back spans two whole minutes of its
  // own; at 10× the level, that alone is a share 10 times K's for those minutes (35 reviews in
  // the 3 minutes after, seed 1, where K allows 6). Where this process's own count is higher, it
  // is the fleet's rate: 4-7 (seeds 1-3), where the worker's own estimate alone, before there was
  // a level, gave 8-16.
  const k = 120;
  const phases = [
    { name: 'on', durationMs: 45 * minute, perHour: 3600 },
    { name: 'off', durationMs: 15 * minute, perHour: 1e-9 },
    { name: 'up', durationMs: 3 * minute, perHour: 36_000 },
  ];
  for (const seed of [1, 2, 3]) {
    const reviews = await runFleet(1, phases, k, seed);
    const back = reviews.slice(60).reduce((a, b) => a + b, 0);
    t.diagnostic(`seed ${seed}: ${back} reviews in the 3 minutes after the pause (K: 6); per minute ${reviews.slice(60).join(' ')}`);
    assert.ok(back <= 12, `seed ${seed}: ${back} reviews in the 3 minutes after the pause (K: 6)`);
  }
});

test('a worker draining a backlog after a pause reads the level once, not scaled by its step guard again', async (t) => {
  // Back from a pause, a worker drains a backlog (10× for 30 s), then the traffic runs at the
  // level it left at. While the level stands for the fleet's rate, the worker's own estimate
  // (the higher, one worker) already carries its step guard (the last minute at 0.2× the
  // backlog's average); scaled by the guard again, 3,600/h read as about 660/h, a share 5 times
  // K's: 40-46 reviews in the minute after the backlog (seeds 1, 3, 4) where K allows 20;
  // 19-24 read once.
  const k = 1200;
  const phases = [
    { name: 'on', durationMs: 45 * minute, perHour: 3600 },
    { name: 'off', durationMs: 15 * minute, perHour: 1e-9 },
    { name: 'backlog', durationMs: minute / 2, perHour: 36_000 },
    { name: 'on', durationMs: 2 * minute, perHour: 3600 },
  ];
  for (const seed of [1, 3, 4]) {
    const reviews = await runFleet(1, phases, k, seed);
    const what = `seed ${seed}: ${reviews[61]} reviews in the minute after the backlog (K: 20); per minute ${reviews.slice(60).join(' ')}`;
    t.diagnostic(what);
    assert.ok((reviews[61] as number) <= 30, what);
  }
});

test('a fleet back from a pause of 10 to 11 minutes reads the level, not the sliver its oldest whole minute holds from before the pause', async (t) => {
  // The fleet's window then holds the traffic's last seconds before the pause in its oldest whole
  // minute, so no level stood for it and that sliver, read over the window, was the fleet's rate
  // (the worker's own window, empty, had no step for its guard to correct): 16 workers at
  // K = 120/h reviewed 42-56 in the 2 minutes after a 10-minute pause (seeds 1-2) and 13-20 after
  // one of 10.5 where K allows 4. The oldest minute's sliver now leaves the level standing.
  const k = 120;
  for (const pause of [10, 10.5]) {
    for (const seed of [1, 2]) {
      // The traffic stops 18 s into a minute (the fleet starts 30 s into one): a sliver of 18 s.
      const phases = [
        { name: 'on', durationMs: 20.8 * minute, perHour: 36_000 },
        { name: 'off', durationMs: pause * minute, perHour: 1e-9 },
        { name: 'on', durationMs: 2 * minute, perHour: 36_000 },
      ];
      const tenths = await runFleet(16, phases, k, seed, 10_000);
      const backAt = Math.floor(((20.8 + pause) * minute) / 10_000);
      const back = tenths.slice(backAt).reduce((a, b) => a + b, 0);
      const what = `pause ${pause} min, seed ${seed}: ${back} reviews in the 2 minutes after (K: 4); per 10 s ${tenths.slice(backAt).join(' ')}`;
      t.diagnostic(what);
      assert.ok(back <= 10, what);
    }
  }
});

test('a fleet back from a pause shorter than the window reads the level, not the traffic back thinned by the silence the window still holds', async (t) => {
  // A pause of 9 minutes leaves the traffic's last minute or two before it in the window: read
  // over the window, silence included, the traffic back was a tenth to a fifth of itself (and made
  // that the level) until each worker's step guard saw 20 of its own events: 16 workers at
  // K = 120/h reviewed 7-15 in the 2 minutes after where K allows 4 (seeds 1-2, the traffic
  // stopping 5 s or 55 s into a minute). The level now stands for it while the silence reaches the
  // newest whole minute and while the traffic back spans one, then its own minutes are read: 0-2.
  const k = 120;
  for (const stopsAt of [5, 55]) {
    for (const seed of [1, 2]) {
      // The fleet starts 30 s into a minute.
      const onMs = 20 * minute + (stopsAt - 30) * 1000;
      const phases = [
        { name: 'on', durationMs: onMs, perHour: 36_000 },
        { name: 'off', durationMs: 9 * minute, perHour: 1e-9 },
        { name: 'on', durationMs: 2 * minute, perHour: 36_000 },
      ];
      const tenths = await runFleet(16, phases, k, seed, 10_000);
      const backAt = Math.floor((onMs + 9 * minute) / 10_000);
      const back = tenths.slice(backAt).reduce((a, b) => a + b, 0);
      const what = `stopping ${stopsAt} s into a minute, seed ${seed}: ${back} reviews in the 2 minutes after (K: 4); per 10 s ${tenths.slice(backAt).join(' ')}`;
      t.diagnostic(what);
      assert.ok(back <= 6, what);
    }
  }
});

/**
 * 16 workers at 36,000 events/h under budget=120,class-quota=24/h, the traffic stopping 5 s into
 * a minute for `pauseMinutes`: the class-quota reviews per class in the 6 minutes after the pause
 * and in the 6 minutes before it (same traffic; the quota allows N/10 = 2.4 per class in each).
 */
async function classQuotaAroundPause(pauseMinutes: number, seed: number): Promise<{ after: number[]; before: number[]; what: string }> {
  const k = 120;
  const n = 24;
  // The fleet starts 30 s into a minute; the traffic stops 5 s into one.
  const onMs = 12 * minute - 25_000;
  const phases = [
    { name: 'on', durationMs: onMs, perHour: 36_000 },
    { name: 'off', durationMs: pauseMinutes * minute, perHour: 1e-9 },
    { name: 'on', durationMs: 6 * minute, perHour: 36_000 },
  ];
  const backAt = onMs + pauseMinutes * minute;
  const before = new Array<number>(5).fill(0);
  const after = new Array<number>(5).fill(0);
  await runFleet(16, phases, k, seed, minute, {
    policy: `budget=${k},class-quota=${n}/h`,
    onReview: (decision, predictedClass, at) => {
      if (decision.reason !== 'class-quota') return;
      if (at >= backAt) after[predictedClass]! += 1;
      else if (at >= onMs - 6 * minute) before[predictedClass]! += 1;
    },
  });
  const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
  const what = `pause ${pauseMinutes} min, seed ${seed}: class-quota reviews per class in the 6 minutes after it ${after.join(' ')} (${sum(after)}), in the 6 before it ${before.join(' ')} (${sum(before)}); N allows ${n / 10} per class, ${(5 * n) / 10} in all`;
  return { after, before, what };
}

test("a fleet back from a pause shorter than the window grants each class its quota at the class's traffic, not at the traffic thinned by the silence", async (t) => {
  // budget=K with class-quota=N/h: each class's fleet rate was its count over the model's whole
  // traffic span, so after a pause of 9 minutes the window's silence thinned it (a tenth to a fifth
  // in the first minutes, still two thirds 5 minutes later), while the model's own rate read the
  // level and then the minutes since the silence (7b74306). The quota, N over a thinned count,
  // over-granted every class for the 10 minutes the silence stays in the window: 48-52 where N
  // allows 12 (seeds 1-2).
  for (const seed of [1, 2]) {
    const { after, what } = await classQuotaAroundPause(9, seed);
    t.diagnostic(what);
    assert.ok(after.reduce((a, b) => a + b, 0) <= 24, what);
  }
});

test("a fleet back from a pause longer than the window grants each class its quota at the level, not at each worker's own count", async (t) => {
  // While the window holds no traffic, a class had no fleet figure, and the quota fell back on
  // each worker's own count of it (a part 16 times smaller: inclusion 16 times N's, all of a rare
  // class): 172-184 quota reviews in the 6 minutes after a 15-minute pause (nearly all in its
  // first minute) where N allows 12 (seeds 1-2). The level stands for the model there; each class
  // is now read at its share of the traffic this worker last read.
  for (const seed of [1, 2]) {
    const { after, what } = await classQuotaAroundPause(15, seed);
    t.diagnostic(what);
    assert.ok(after.reduce((a, b) => a + b, 0) <= 24, what);
  }
});

/**
 * Workers sharing a sparse model's Poisson traffic round robin on a simulated clock: each event
 * decided and recorded by the next worker, every worker refreshed at the last 10-s tick before it
 * (as the worker's timer does; the ticks between two events read the same Redis, which only an
 * event changes, and a sparse model never makes a level to store). Reviews in all.
 */
async function runSparse(workers: number, perHour: number, hours: number, k: number, seed: number): Promise<{ events: number; reviews: number }> {
  const prefix = `sparse${Math.random().toString(36).slice(2, 10)}`;
  const start = Date.UTC(2026, 10, 27, 12, 0, 30);
  let now = start;
  const samplers = Array.from({ length: workers }, () => createReviewSampler({ policy: `budget=${k}`, redis, prefix, pool: new ReviewPool(redis, prefix), now: () => now }));
  const random = seededRandom(seed);
  const arrivals = new PoissonArrivals([{ name: 'sparse', durationMs: hours * 60 * minute, perHour }], random, start);
  let events = 0;
  let reviews = 0;
  try {
    for (let at = arrivals.next(); at !== undefined; at = arrivals.next(), events++) {
      const tick = start + Math.floor((at - start) / 10_000) * 10_000;
      if (tick > start) {
        now = tick;
        await Promise.all(samplers.map((s) => s.refreshFleetRate()));
      }
      now = Math.round(at);
      if ((await offerEvent(samplers[events % workers] as Sampler, `req-${events}`, now, random)).decision.sampled) reviews += 1;
    }
  } finally {
    for (const s of samplers) s.close();
  }
  return { events, reviews };
}

test('a sparse model (a few events an hour) is given about K, by one worker or a fleet, not about half of it', async (t) => {
  // 4 events/h at K = 1/h for 200 h. The budget's 10-minute window cannot read a rate below 6/h
  // (a lone event read at 6/h, two in a window at 12/h), and the fleet's whole minutes read one
  // event k minutes back as 60/k per hour: 0.43-0.55 × K (seeds 1-3), 1 worker or 4 alike. Now a
  // lone event counts its whole quiet spell, and the fleet's spell since its latest event (kept in
  // Redis) where its window holds fewer than 5 events, so the shares add up to K.
  const k = 1;
  const hours = 200;
  for (const workers of [1, 4]) {
    for (const seed of [1, 2, 3]) {
      const { events, reviews } = await runSparse(workers, 4, hours, k, seed);
      const what = `${workers} worker(s), seed ${seed}: ${reviews} reviews of ${events} events in ${hours} h (${(reviews / (k * hours)).toFixed(2)} × K)`;
      t.diagnostic(what);
      assert.ok(reviews >= 0.8 * k * hours && reviews <= 1.2 * k * hours, what);
    }
  }
});
