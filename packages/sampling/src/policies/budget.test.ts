import assert from 'node:assert/strict';
import { test } from 'node:test';
import { priorityScore } from '../priority-score.ts';
import { reviewDecisionSchema } from '../review-decision.ts';
import { decideReview, type ReviewPolicy } from '../review-policy.ts';
import { SlidingWindowRate } from '../estimators/sliding-window-rate.ts';
import { PoissonArrivals, type TrafficPhase } from '../testing/poisson-arrivals.ts';
import { reviewInput } from '../testing/review-inputs.ts';
import { seededRandom } from '../testing/seeded-random.ts';
import { syntheticPrediction } from '../testing/synthetic-predictions.ts';
import { anyOf } from './any-of.ts';
import { budget, type BudgetPolicy } from './budget.ts';
import { confidenceBand } from './confidence-band.ts';

const minute = 60_000;
const hour = 60 * minute;
const start = Date.UTC(2026, 0, 1);
const window = 10 * minute;

interface PhaseTally {
  events: number;
  reviews: number;
  /** Reviews and hours counted from one adaptation window after the phase began. */
  settledReviews: number;
  settledHours: number;
  /** Reviews in the phase's first adaptation window. */
  transientReviews: number;
}

/** Replays Poisson traffic with synthetic predictions through `policies` (round-robin: several workers). */
function simulate(policies: readonly ReviewPolicy[], phases: readonly TrafficPhase[], seed: number, model = 'm'): Map<string, PhaseTally> {
  const random = seededRandom(seed);
  const arrivals = new PoissonArrivals(phases, random, start);
  const tallies = new Map(phases.map((p) => [p.name, { events: 0, reviews: 0, settledReviews: 0, settledHours: (p.durationMs - window) / hour, transientReviews: 0 }]));
  const phaseStart = new Map<string, number>();
  let elapsed = start;
  for (const p of phases) {
    phaseStart.set(p.name, elapsed);
    elapsed += p.durationMs;
  }
  let i = 0;
  for (let now = arrivals.next(); now !== undefined; now = arrivals.next(), i++) {
    const { predictedClass, probabilities } = syntheticPrediction(random);
    const decision = decideReview(policies[i % policies.length] as ReviewPolicy, reviewInput({ id: `req-${i}`, model, predictedClass, probabilities, now }));
    const tally = tallies.get(arrivals.phase.name) as PhaseTally;
    tally.events++;
    if (!decision.sampled) continue;
    tally.reviews++;
    if (now >= (phaseStart.get(arrivals.phase.name) as number) + window) tally.settledReviews++;
    else tally.transientReviews++;
  }
  return tallies;
}

const step: readonly TrafficPhase[] = [
  { name: 'before', durationMs: 2 * hour, perHour: 6_000 },
  { name: 'step ×10', durationMs: 2 * hour, perHour: 60_000 },
  { name: 'after', durationMs: 2 * hour, perHour: 6_000 },
];

test('the review rate stays within ±20% of K before, during and after a 10× traffic step (after one window)', () => {
  const k = 600;
  const tallies = simulate([budget({ reviewsPerHour: k, adaptationWindowMs: window })], step, 1);
  for (const [name, tally] of tallies) {
    const perHour = tally.settledReviews / tally.settledHours;
    assert.ok(Math.abs(perHour / k - 1) <= 0.2, `${name}: ${perHour.toFixed(0)} reviews/h vs K=${k} (${tally.events} events)`);
  }
  // The step guard: the first window after each step stays within 2× / ½× of K, not 10× / ⅒.
  const transient = (name: string) => ((tallies.get(name) as PhaseTally).transientReviews / window) * hour;
  assert.ok(transient('step ×10') < 2 * k, `first window of the step: ${transient('step ×10')}/h`);
  assert.ok(transient('after') > k / 2, `first window after the step: ${transient('after')}/h`);
});

test('workers sharing the queue, given the fleet-wide rate, review K together', () => {
  const k = 600;
  const workers: BudgetPolicy[] = [];
  const fleetRate = (model: string, now: number) => workers.reduce((sum, w) => sum + (w.localRate(model, now) ?? 0), 0);
  for (let i = 0; i < 3; i++) workers.push(budget({ reviewsPerHour: k, trafficRate: fleetRate }));
  const tallies = simulate(workers, step, 2);
  for (const [name, tally] of tallies) {
    const perHour = tally.settledReviews / tally.settledHours;
    assert.ok(Math.abs(perHour / k - 1) <= 0.2, `${name}: ${perHour.toFixed(0)} reviews/h for the fleet vs K=${k}`);
  }
  // Without the fleet rate each worker would take K for itself: the provider is what keeps it at K.
  const alone = simulate([0, 1, 2].map(() => budget({ reviewsPerHour: k })), step.slice(0, 1), 2).get('before') as PhaseTally;
  assert.ok(alone.settledReviews / alone.settledHours > 2.4 * k);
});

test('a 10× step is followed within about a minute with a fleet rate too (the step guard scales it)', () => {
  const k = 600;
  // The fleet figure as workers get it: a 10-minute average of everyone's traffic, no step guard.
  const fleetWindow = new SlidingWindowRate(window);
  const counted = (policy: ReviewPolicy): ReviewPolicy => ({
    describe: () => policy.describe(),
    decide: (input, priority) => {
      fleetWindow.record(input.now);
      return policy.decide(input, priority);
    },
  });
  const fleetRate = (_model: string, now: number) => fleetWindow.ratePerHour(now);
  const workers = [0, 1, 2].map(() => counted(budget({ reviewsPerHour: k, trafficRate: fleetRate })));
  const tallies = simulate(workers, step, 6);
  const transient = (name: string) => ((tallies.get(name) as PhaseTally).transientReviews / window) * hour;
  assert.ok(transient('step ×10') < 2 * k, `first window of the step: ${transient('step ×10').toFixed(0)}/h vs K=${k}`);
  assert.ok(transient('after') > k / 2, `first window after the step: ${transient('after').toFixed(0)}/h vs K=${k}`);
  for (const [name, tally] of tallies) {
    const perHour = tally.settledReviews / tally.settledHours;
    assert.ok(Math.abs(perHour / k - 1) <= 0.2, `${name}: ${perHour.toFixed(0)} reviews/h for the fleet vs K=${k}`);
  }
});

test('a process that has just started spends little more than its budget in its first minute', () => {
  // A restarted or scaled-up worker knows neither the traffic rate nor the priorities yet. Its
  // first threshold came from one event and stood for a second, and its rate counted the first
  // half-minute bucket whole, so at 10 events/s and K = 120/h (2 a minute) it reviewed 15–20 in
  // its first minute (seeds 1–6); now 3–9. Some excess is inherent: until its histogram holds
  // enough events, the top quantile is the highest priority seen so far.
  const firstMinute = [{ name: 'first minute', durationMs: minute, perHour: 36_000 }];
  const reviews = [1, 2, 3, 4, 5, 6].map((seed) => (simulate([budget({ reviewsPerHour: 120 })], firstMinute, seed).get('first minute') as PhaseTally).reviews);
  assert.ok(Math.max(...reviews) <= 11, `first-minute reviews by seed: ${reviews.join(', ')}`);
});

test("a process starting into a running fleet takes the fleet's threshold until its own histogram can place one", () => {
  // The fleet's threshold: one process's after 30 minutes of the same traffic.
  const traffic = (name: string, minutes: number) => [{ name, durationMs: minutes * minute, perHour: 36_000 }];
  const warm = budget({ reviewsPerHour: 120 });
  simulate([warm], traffic('warm-up', 30), 11);
  const fleet = warm.threshold('m') as number;
  const firstMinute = (seed: number, fleetThreshold?: () => number) =>
    (simulate([budget({ reviewsPerHour: 120, ...(fleetThreshold ? { fleetThreshold } : {}) })], traffic('first minute', 1), seed).get('first minute') as PhaseTally).reviews;
  const seeds = [1, 2, 3, 4, 5, 6];
  const own = seeds.map((seed) => firstMinute(seed));
  const seeded = seeds.map((seed) => firstMinute(seed, () => fleet));
  // K = 120/h is 2 a minute; alone, the new process reviews what beats the few priorities it has seen.
  assert.ok(seeded.reduce((a, b) => a + b, 0) < own.reduce((a, b) => a + b, 0) / 2, `first-minute reviews: own ${own.join(', ')}; with the fleet's threshold ${seeded.join(', ')}`);
  assert.ok(Math.max(...seeded) <= 5, `with the fleet's threshold: ${seeded.join(', ')}`);
});

test("ownThreshold is the process's own placement, never raised to the fleet's (what a worker publishes); a composed policy passes it on", () => {
  const fleetHigh = 0.99;
  const policy = anyOf(budget({ reviewsPerHour: 120, fleetThreshold: () => fleetHigh }), confidenceBand({ below: 0.6 }));
  for (let i = 0; i < 10; i++) decideReview(policy, reviewInput({ id: `req-${i}`, probabilities: [0.75, 0.25], now: start + i * 100 }));
  const own = policy.ownThreshold?.('m') as number;
  assert.equal(policy.threshold?.('m'), fleetHigh, 'young: the fleet raises the one in force');
  assert.ok(own < fleetHigh, `own ${own}`);
  assert.equal(policy.ownThreshold?.('other'), undefined);
  // Young: 10 events cannot place a threshold that K = 120/h wants about 1 in 30 of them above.
  assert.equal(policy.ownThresholdPlaced?.('m'), false);
  assert.equal(policy.ownThresholdPlaced?.('other'), false);
});

test("a whole fleet starting together, each judging by the fleet's last recorded threshold, does not keep itself sampling", () => {
  // Each worker records its threshold where the others read it, as the worker does in Redis. The
  // first ones recorded are young (low); taken as they were, they passed from worker to worker:
  // 5,955 reviews here where K allows 20 (12 when a worker never goes below its own threshold).
  let recorded: number | undefined;
  const budgets: BudgetPolicy[] = [];
  const trafficRate = (model: string, now: number) => budgets.reduce((sum, b) => sum + (b.localRate(model, now) ?? 0), 0);
  const workers = Array.from({ length: 4 }, () => {
    const inner = budget({ reviewsPerHour: 120, trafficRate, fleetThreshold: () => recorded });
    budgets.push(inner);
    const worker: ReviewPolicy = {
      describe: () => inner.describe(),
      decide: (input, priority) => {
        const verdict = inner.decide(input, priority);
        recorded = verdict.threshold;
        return verdict;
      },
    };
    return worker;
  });
  const tallies = simulate(workers, [{ name: 'first 10 minutes', durationMs: 10 * minute, perHour: 36_000 }], 3);
  const reviews = (tallies.get('first 10 minutes') as PhaseTally).reviews;
  assert.ok(reviews <= 40, `${reviews} reviews in the first 10 minutes (K: 20)`);
});

test('each model has its own budget and threshold', () => {
  const policy = budget({ reviewsPerHour: 600 });
  const busy = simulate([policy], [{ name: 'busy', durationMs: 2 * hour, perHour: 60_000 }], 3, 'busy').get('busy') as PhaseTally;
  const quiet = simulate([policy], [{ name: 'quiet', durationMs: 2 * hour, perHour: 3_000 }], 4, 'quiet').get('quiet') as PhaseTally;
  for (const tally of [busy, quiet]) assert.ok(Math.abs(tally.settledReviews / tally.settledHours / 600 - 1) <= 0.2, JSON.stringify(tally));
  assert.ok((policy.threshold('busy') as number) > (policy.threshold('quiet') as number));
  assert.equal(policy.threshold('unknown'), undefined);
});

test('each decision records the threshold and the priority it was compared with (ties split within a bin)', () => {
  const policy = budget({ reviewsPerHour: 120 });
  const random = seededRandom(5);
  let sampled = 0;
  for (let i = 0; i < 20_000; i++) {
    const { predictedClass, probabilities } = syntheticPrediction(random);
    const input = reviewInput({ id: `r${i}`, predictedClass, probabilities, now: start + i * 100 });
    const decision = reviewDecisionSchema.parse(decideReview(policy, input));
    assert.equal(decision.priority, priorityScore(input));
    const threshold = decision.threshold as number;
    // The rank compared is the priority moved within its bin (2048 bins over 1 − √(1 − p)).
    const bin = (2 * Math.sqrt(1 - Math.min(threshold, decision.priority))) / 2048 + 1e-12;
    if (decision.sampled) assert.ok(decision.priority >= threshold - bin);
    else assert.ok(decision.priority < threshold + bin);
    assert.equal(decision.policy, 'budget=120/h');
    if (decision.sampled) {
      sampled++;
      assert.equal(decision.reason, 'priority');
      assert.equal(decision.term, 'budget=120/h');
    } else assert.equal(decision.reason, 'not-sampled');
  }
  // 20 000 events at 36 000/h: K/rate = 1/300, ≈ 67.
  assert.ok(sampled > 40 && sampled < 100, `${sampled}`);
  assert.equal(typeof policy.threshold('m'), 'number');
});

test('every decision records its rank, and is sampled iff rank ≥ threshold, so an audit needs no replay', () => {
  const policy = budget({ reviewsPerHour: 60 });
  let sampled = 0;
  for (let i = 0; i < 20_000; i++) {
    const input = reviewInput({ id: `a${i}`, probabilities: i % 2 ? [0.5, 0.5] : [0.9, 0.1], now: start + i * 100 });
    const decision = reviewDecisionSchema.parse(JSON.parse(JSON.stringify(decideReview(policy, input))));
    assert.equal(typeof decision.rank, 'number', 'sampled or not');
    assert.equal(decision.sampled, (decision.rank as number) >= (decision.threshold as number), `decision ${i}`);
    if (decision.sampled) sampled++;
  }
  assert.ok(sampled > 0 && sampled < 1_000, `${sampled}`);
});

test("in a composed policy the budget's rank and threshold are recorded whichever term decided", () => {
  const policy = anyOf(confidenceBand({ below: 0.6 }), budget({ reviewsPerHour: 60 }));
  const low = decideReview(policy, reviewInput({ id: 'low', probabilities: [0.5, 0.5] }));
  assert.equal(low.term, 'confidence<0.6');
  assert.equal(typeof low.rank, 'number');
  assert.equal(typeof low.threshold, 'number');
  const high = decideReview(policy, reviewInput({ id: 'high', probabilities: [0.99, 0.01], now: start + 1 }));
  assert.equal(typeof high.rank, 'number');
});

test('identical priorities still split to K: ties are broken by the id, not all-or-nothing', () => {
  const policy = budget({ reviewsPerHour: 600 });
  let reviews = 0;
  // Three hours at 36 000/h of the very same prediction: one priority value for everything.
  for (let i = 0; i < 108_000; i++) {
    const decision = decideReview(policy, reviewInput({ id: `same-${i}`, probabilities: [0.7, 0.3], now: start + i * 100 }));
    if (decision.sampled && i >= 36_000) reviews++;
  }
  assert.ok(Math.abs(reviews / 2 / 600 - 1) <= 0.2, `${reviews / 2}/h`);
});

test('the same stream gives the same decisions (replayable)', () => {
  const run = () => {
    const policy = budget({ reviewsPerHour: 300 });
    const random = seededRandom(9);
    const out: string[] = [];
    for (let i = 0; i < 30_000; i++) {
      const { predictedClass, probabilities } = syntheticPrediction(random);
      out.push(JSON.stringify(decideReview(policy, reviewInput({ id: `r${i}`, predictedClass, probabilities, now: start + i * 50 }))));
    }
    return out;
  };
  assert.deepEqual(run(), run());
});

test('options are checked', () => {
  assert.throws(() => budget({ reviewsPerHour: 0 }), RangeError);
  assert.throws(() => budget({ reviewsPerHour: 10, adaptationWindowMs: -1 }), RangeError);
  assert.equal(budget({ reviewsPerHour: 10, adaptationWindowMs: 30 * minute }).describe(), 'budget=10/h@30m');
});
