import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decideReview } from '../review-policy.ts';
import { PoissonArrivals } from '../testing/poisson-arrivals.ts';
import { reviewInput, reviewMap } from '../testing/review-inputs.ts';
import { seededRandom } from '../testing/seeded-random.ts';
import { syntheticPrediction } from '../testing/synthetic-predictions.ts';
import { budget, implausibleShortfall } from './budget.ts';

const minute = 60_000;
const hour = 60 * minute;
const start = Date.UTC(2026, 0, 1);

/**
 * 36,000 events/h through a budget; until `fixedAt` a share `broken` of the maps put all their
 * mass on the border (suspicion 1, priority 1), after it none do (a model version that fixed it).
 * Reviews per quarter hour.
 */
function release(k: number, broken: number, fixedAt: number, hours: number, seed: number): number[] {
  const random = seededRandom(seed);
  const policy = budget({ reviewsPerHour: k });
  const arrivals = new PoissonArrivals([{ name: 'steady', durationMs: hours * hour, perHour: 36_000 }], random, start);
  const quarters = new Array<number>(hours * 4).fill(0);
  let i = 0;
  for (let now = arrivals.next(); now !== undefined; now = arrivals.next(), i++) {
    const { predictedClass, probabilities } = syntheticPrediction(random);
    const border = now < start + fixedAt && random() < broken;
    const maps = [reviewMap({ classIndex: predictedClass, borderMass: border ? 1 : 0.3 })];
    if (decideReview(policy, reviewInput({ id: `req-${i}`, predictedClass, probabilities, maps, now })).sampled) quarters[Math.floor((now - start) / (hour / 4))]! += 1;
  }
  return quarters;
}

test('priorities that fall for good (a release fixing what was reviewed) are reviewed again within minutes, not hours', () => {
  // The histogram remembers about an hour of priorities. The 2% at priority 1 kept the threshold
  // among them until they had decayed below the share (K / 36,000): no review from 2 h to 4.5 h.
  // A block of promised reviews that brings implausibly few now starts the histogram afresh.
  const k = 120;
  for (const seed of [1, 2]) {
    const quarters = release(k, 0.02, 2 * hour, 4, seed);
    const before = quarters.slice(0, 8).reduce((a, b) => a + b, 0) / 2;
    const after = quarters.slice(9).reduce((a, b) => a + b, 0) / 1.75;
    assert.ok(before > 0.8 * k && before < 1.3 * k, `seed ${seed}: ${before}/h before the release`);
    assert.ok(after > 0.7 * k && after < 1.3 * k, `seed ${seed}: ${after}/h from 15 minutes after the release (K ${k}); per quarter ${quarters.join(' ')}`);
  }
});

test('steady traffic never looks like a shortfall: the histogram is not restarted by chance', () => {
  // 12 h at K = 120/h: the reviews per hour stay at K, with no fresh-start excess in any hour.
  const quarters = release(120, 0, 0, 12, 3);
  for (let h = 1; h < 12; h++) {
    const reviews = quarters.slice(h * 4, h * 4 + 4).reduce((a, b) => a + b, 0);
    assert.ok(reviews > 70 && reviews < 175, `hour ${h}: ${reviews} reviews`);
  }
});

test('an event promises at most one review: traffic back after a pause does not restart the histogram', () => {
  // The first event into an empty window is read as one per quiet spell (6/h), a share of K/6 = 20
  // at K = 120/h. Counted as 20 promised reviews of which one event can bring one, it completed a
  // shortfall block by itself and restarted the histogram after about one pause in three: a
  // mature worker went back to deciding by the fleet's recorded threshold (here 1, which lets
  // nothing through) for its first minutes after the pause. In a fleet of 8 with a 15-minute
  // pause every hour, 130 restarts a day (1,100 with 48 workers, 178 and 1,087 with all of an
  // hour's traffic in one minute), none by chance in steady traffic.
  for (const seed of [1, 2, 3]) {
    const policy = budget({ reviewsPerHour: 120, fleetThreshold: () => 1 });
    const random = seededRandom(seed);
    const firstMinutes: number[] = [];
    for (let session = 0; session < 12; session++) {
      let reviews = 0;
      for (let i = 0; i < 45 * 600; i++) {
        const p1 = 0.5 + 0.5 * random();
        const now = start + session * hour + i * 100;
        if (decideReview(policy, reviewInput({ id: `s${seed}-${session}-${i}`, probabilities: [p1, 1 - p1], now })).sampled && i < 1200) reviews++;
      }
      firstMinutes.push(reviews);
    }
    // The first session is a fresh process's, young: it decides by the fleet's threshold.
    const after = firstMinutes.slice(1);
    assert.ok(Math.min(...after) >= 2, `seed ${seed}: reviews in the first 2 minutes of each 45-minute session after a 15-minute pause: ${firstMinutes.join(' ')}`);
  }
});

test('implausibleShortfall: none of 9.2 promised, 4 of 20; not 1 of 9, 6 of 20, or any excess', () => {
  assert.equal(implausibleShortfall(9.3, 0), true);
  assert.equal(implausibleShortfall(9.1, 0), false);
  assert.equal(implausibleShortfall(20, 4), true);
  assert.equal(implausibleShortfall(20, 6), false);
  assert.equal(implausibleShortfall(9, 1), false);
  assert.equal(implausibleShortfall(5, 30), false);
  // Large blocks: a bound in logs, no underflow taken for implausible.
  assert.equal(implausibleShortfall(2000, 1950), false);
});
