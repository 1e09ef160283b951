import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decideReview } from '../review-policy.ts';
import { reviewInput } from '../testing/review-inputs.ts';
import { seededRandom } from '../testing/seeded-random.ts';
import { SlidingWindowRate } from '../estimators/sliding-window-rate.ts';
import { classQuota } from './class-quota.ts';

const hour = 3_600_000;
const start = Date.UTC(2026, 0, 1);

test('common classes get ≈ N per window, a class rarer than N gets all of its explanations', () => {
  const policy = classQuota({ perClass: 20 });
  assert.equal(policy.describe(), 'class-quota=20/h');
  // Per hour: class 0 10 000, class 1 500, class 2 8 (rarer than the quota).
  const perHour = [10_000, 500, 8];
  const total = perHour.reduce((a, b) => a + b, 0);
  const random = seededRandom(3);
  const reviews = [0, 0, 0];
  const events = [0, 0, 0];
  const hours = 12;
  for (let i = 0; i < total * hours; i++) {
    const r = random() * total;
    const predictedClass = r < perHour[0]! ? 0 : r < perHour[0]! + perHour[1]! ? 1 : 2;
    const now = start + (i / total) * hour;
    const decision = decideReview(policy, reviewInput({ id: `req-${i}`, predictedClass, now }));
    // Count after a two-hour warm-up: the first window takes the first N of each class.
    if (now < start + 2 * hour) continue;
    events[predictedClass]!++;
    if (decision.sampled) {
      reviews[predictedClass]!++;
      assert.equal(decision.reason, 'class-quota');
      assert.match(decision.detail ?? '', new RegExp(`^class ${predictedClass}: inclusion probability `));
    }
  }
  const measured = hours - 2;
  for (const c of [0, 1]) assert.ok(Math.abs(reviews[c]! / measured / 20 - 1) < 0.2, `class ${c}: ${reviews[c]! / measured}/h`);
  assert.equal(reviews[2], events[2]);
});

test('a burst in one class costs ≈ N·(1 + ln(b/N)) reviews, not b', () => {
  const policy = classQuota({ perClass: 10 });
  let reviews = 0;
  for (let i = 0; i < 10_000; i++) if (decideReview(policy, reviewInput({ id: `burst-${i}`, now: start + i })).sampled) reviews++;
  // 10·(1 + ln 1000) ≈ 79.
  assert.ok(reviews > 50 && reviews < 120, `${reviews}`);
});

test('strata are per model; the decision is a function of the id and the stream', () => {
  const a = classQuota({ perClass: 5, windowMs: 30 * 60_000 });
  const b = classQuota({ perClass: 5, windowMs: 30 * 60_000 });
  assert.equal(a.describe(), 'class-quota=5/30m');
  for (let i = 0; i < 2000; i++) {
    const input = reviewInput({ id: `req-${i}`, model: i % 2 === 0 ? 'x' : 'y', now: start + i * 1000 });
    assert.deepEqual(decideReview(a, input), decideReview(b, input));
  }
  // The first five of each model are all taken: model y does not share x's stratum.
  const fresh = classQuota({ perClass: 5 });
  const firstTen = Array.from({ length: 10 }, (_, i) => decideReview(fresh, reviewInput({ id: `q${i}`, model: i < 5 ? 'x' : 'y', now: start })).sampled);
  assert.deepEqual(firstTen, new Array(10).fill(true));
});

test('worker processes given the fleet-wide class traffic review N per class together, not N each', () => {
  const perClass = 5;
  const processes = 4;
  const fleet = new SlidingWindowRate(10 * 60_000);
  const classTraffic = (_model: string, classIndex: number, now: number) => (classIndex === 0 ? fleet.ratePerHour(now) : undefined);
  const shared = Array.from({ length: processes }, () => classQuota({ perClass, classTraffic }));
  const alone = Array.from({ length: processes }, () => classQuota({ perClass }));
  let reviews = 0;
  let aloneReviews = 0;
  // 10 000/h of one class for 3 hours, round-robin over the processes; hour 3 counted.
  for (let i = 0; i < 30_000; i++) {
    const now = start + i * 360;
    fleet.record(now);
    const input = reviewInput({ id: `x${i}`, now });
    const sampled = decideReview(shared[i % processes]!, input).sampled;
    const sampledAlone = decideReview(alone[i % processes]!, input).sampled;
    if (now < start + 2 * hour) continue;
    if (sampled) reviews++;
    if (sampledAlone) aloneReviews++;
  }
  assert.ok(Math.abs(reviews / perClass - 1) <= 0.5, `${reviews} reviews in an hour for N=${perClass} over ${processes} processes`);
  assert.ok(aloneReviews > 2.5 * perClass, `without the fleet count each process takes N: ${aloneReviews}`);
});

test('one decision stamped hours ahead (a clock NTP then set back) does not starve the class quota', () => {
  // One event a second in one class, N = 5/h. At 1 h one decision is stamped 6 h ahead, then the
  // clock is right again. The count only decayed forward in time, so until real time caught up
  // with the stamp it grew by every event and decayed by none: 4 reviews in the 5 hours after,
  // where N allows 25 (28 without the stamp, 29 now), and a stamp a year ahead kept it so for a year.
  for (const ahead of [6 * hour, 365 * 24 * hour]) {
    const policy = classQuota({ perClass: 5 });
    let reviews = 0;
    for (let s = 0; s < 7 * 3600; s++) {
      const now = start + s * 1000;
      const stamped = s === 3600 ? now + ahead : now;
      const sampled = decideReview(policy, reviewInput({ id: `req-${s}`, now: stamped })).sampled;
      if (sampled && s >= 2 * 3600) reviews++;
    }
    assert.ok(reviews >= 15 && reviews <= 40, `${reviews} reviews in the 5 h after a stamp ${ahead / hour} h ahead (N: 25)`);
  }
});
