import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decideReview } from '../review-policy.ts';
import { PoissonArrivals } from '../testing/poisson-arrivals.ts';
import { reviewInput } from '../testing/review-inputs.ts';
import { seededRandom, type Random } from '../testing/seeded-random.ts';
import { budget, type BudgetOptions, type BudgetPolicy } from './budget.ts';

// The budget across gaps in time: traffic back after a pause, a model whose last event is old,
// a clock stepped ahead and set back. 10 events/s, K = 120/h (2 a minute), top probability
// uniform in [0.5, 1): the reviewer's probes (scratch/review-sampling/probe-*.ts) as tests.

const second = 1000;
const minute = 60 * second;
const hour = 60 * minute;
const t0 = Date.UTC(2026, 0, 1);
const sum = (values: readonly number[]) => values.reduce((a, b) => a + b, 0);

/** One decision at `now`; true when sampled. */
function decide(policy: BudgetPolicy, random: Random, id: string, now: number): boolean {
  const p1 = 0.5 + 0.5 * random();
  return decideReview(policy, reviewInput({ id, model: 'm', probabilities: [p1, 1 - p1], now })).sampled;
}

/** Reviews in the first minute and the first ten of 10/s traffic from `resume`, after `before` (an hour of it, or one event). */
function firstMinutes(seed: number, resume: number, before: 'hour' | 'one event' | 'nothing', options: Partial<BudgetOptions> = {}): [number, number] {
  const policy = budget({ reviewsPerHour: 120, ...options });
  const random = seededRandom(seed);
  if (before === 'hour') for (let i = 0; i < 36_000; i++) decide(policy, random, `w${seed}-${i}`, t0 + i * 100);
  if (before === 'one event') decide(policy, random, 'early', t0);
  let one = 0;
  let ten = 0;
  for (let i = 0; i < 6000; i++) {
    if (!decide(policy, random, `s${seed}-${i}`, resume + i * 100)) continue;
    ten++;
    if (i < 600) one++;
  }
  return [one, ten];
}

test('traffic back after a pause longer than the window costs no more than a fresh start', () => {
  // The window kept the first instant of the hour before the pause, so the few new events counted
  // over a whole window (621/h for 36,000/h), and the histogram's weight, counted from its first
  // event, made it look mature: 22–29 reviews in the first minute and 43–52 in ten (K: 2 and 20),
  // where a freshly started process reviews 3–6 and 17–24 (seeds 1–3).
  const seeds = [1, 2, 3];
  const fresh = seeds.map((seed) => firstMinutes(seed, t0, 'nothing'));
  for (const pause of [12 * hour, 15 * minute]) {
    const resumed = seeds.map((seed) => firstMinutes(seed, t0 + hour + pause, 'hour'));
    const what = `after a ${pause / minute} min pause [1 min, 10 min] by seed: ${resumed.join(' ')}; fresh ${fresh.join(' ')}`;
    assert.ok(sum(resumed.map((r) => r[0])) <= 2 * sum(fresh.map((r) => r[0])), what);
    assert.ok(sum(resumed.map((r) => r[1])) <= 1.5 * sum(fresh.map((r) => r[1])), what);
    for (const [, ten] of resumed) assert.ok(ten <= 2 * 20, what);
  }
});

test('the rate right after a pause reads the new traffic, not the new events over a whole window', () => {
  const policy = budget({ reviewsPerHour: 120 });
  const random = seededRandom(4);
  for (let i = 0; i < 36_000; i++) decide(policy, random, `w${i}`, t0 + i * 100);
  const resume = t0 + 13 * hour;
  for (let i = 0; i < 100; i++) decide(policy, random, `s${i}`, resume + i * 100);
  const rate = policy.localRate('m', resume + 10 * second) as number;
  assert.ok(Math.abs(rate / 36_000 - 1) <= 0.2, `${rate.toFixed(0)}/h 10 s after the pause (truth 36,000/h)`);
});

test('a model whose events come more than a window apart gets about all of them reviewed when its traffic is below K', () => {
  // Each event finds the rate window empty. Read as a fresh stream's first bucket (≥ 120/h), such a
  // model was given a share K / 120 however little traffic it had: over 48 h, K = 10/h with one
  // event every 15 min reviewed 15 of 192 (191 before the window restarted on a pause), and
  // batches of 8 every 15 min at K = 100/h 9.0 an hour of 32.
  const run = (k: number, everyMs: number, batch: number, seed: number) => {
    const policy = budget({ reviewsPerHour: k });
    const random = seededRandom(seed);
    let events = 0;
    let reviews = 0;
    for (let t = t0; t < t0 + 48 * hour; t += everyMs) {
      for (let b = 0; b < batch; b++, events++) if (decide(policy, random, `e${events}`, t)) reviews++;
    }
    return { events, reviews };
  };
  for (const [k, every] of [[10, 15 * minute], [10, 11 * minute], [30, 12 * minute]] as const) {
    const { events, reviews } = run(k, every, 1, 9);
    assert.ok(reviews >= 0.9 * events, `K = ${k}/h, one event every ${every / minute} min: ${reviews} of ${events} reviewed`);
  }
  const { events, reviews } = run(100, 15 * minute, 8, 10);
  assert.ok(Math.abs(reviews / events - 1) <= 0.1, `K = 100/h, 8 every 15 min: ${(reviews / 48).toFixed(1)} reviews/h of ${events / 48}/h`);
});

test('a sparse model (a few events an hour) is given about K, not about half of it', () => {
  // 4 events/h (Poisson) at K = 1/h: the 10-minute window cannot read a rate below 6/h. A lone
  // event counted its quiet spell at most a window (6/h, a share of K/6) and two in a window read
  // 12/h, so the shares of an hour added up to about half of K: 0.43-0.55 x K over 200 h (seeds
  // 1-3). A lone event now counts its whole spell (up to a day): a share of K x the spell.
  const k = 1;
  const hours = 200;
  for (const seed of [1, 2, 3]) {
    const policy = budget({ reviewsPerHour: k });
    const random = seededRandom(seed);
    const arrivals = new PoissonArrivals([{ name: 'sparse', durationMs: hours * hour, perHour: 4 }], random, t0);
    let events = 0;
    let reviews = 0;
    for (let at = arrivals.next(); at !== undefined; at = arrivals.next(), events++) if (decide(policy, random, `s${seed}-${events}`, Math.round(at))) reviews++;
    const ratio = reviews / (k * hours);
    assert.ok(ratio >= 0.8 && ratio <= 1.2, `seed ${seed}: ${reviews} reviews of ${events} events in ${hours} h (${ratio.toFixed(2)} x K)`);
  }
});

test("a model whose only earlier event is a day old decides as a fresh one: the histogram's weight is decayed to now", () => {
  // With the fleet's threshold and the fleet's rate given, only the histogram's weight differs.
  // Counted from its first event, one event 24 h old made two weigh 16,777,217: the model looked
  // mature, ignored the fleet's threshold and reviewed 5–11 in its first minute (fresh: 0–1).
  const options = { fleetThreshold: () => 0.999, trafficRate: () => 36_000 };
  for (const seed of [1, 2, 3, 4, 5, 6]) {
    const fresh = firstMinutes(seed, t0 + 24 * hour, 'nothing', options);
    const old = firstMinutes(seed, t0 + 24 * hour, 'one event', options);
    assert.ok(old[0] <= Math.max(2, 2 * fresh[0]), `seed ${seed}: first minute ${old[0]} with a day-old event, ${fresh[0]} fresh`);
  }
});

test('one decision stamped hours ahead (a clock NTP then corrected) does not starve the budget', () => {
  // Every later event landed in the window's newest bucket until real time caught up with the
  // stamp: after a +6 h stamp the local rate read 8,640,120/h two hours later, and the second hour
  // reviewed 1 where K is 120.
  for (const ahead of [hour, 6 * hour, 365 * 24 * hour]) {
    const policy = budget({ reviewsPerHour: 120 });
    const random = seededRandom(7);
    let i = 0;
    for (; i < 36_000; i++) decide(policy, random, `id${i}`, t0 + i * 100);
    const t1 = t0 + i * 100;
    decide(policy, random, `id${i++}`, t1 + ahead);
    const reviews = [0, 0];
    for (let j = 0; j < 72_000; j++, i++) if (decide(policy, random, `id${i}`, t1 + 1 + j * 100)) (reviews[j < 36_000 ? 0 : 1] as number)++;
    const rate = policy.localRate('m', t1 + 72_000 * 100) as number;
    const what = `+${ahead / hour} h: reviews per hour ${reviews.join(', ')} (K 120), local rate ${rate.toFixed(0)}/h`;
    assert.ok(Math.abs(rate / 36_000 - 1) <= 0.02, what);
    for (const r of reviews) assert.ok(Math.abs(r / 120 - 1) <= 0.25, what);
  }
});

test('a clock set back for good: the budget goes on at K', () => {
  const policy = budget({ reviewsPerHour: 120 });
  const random = seededRandom(8);
  let i = 0;
  const t1 = t0 + 6 * hour;
  for (; i < 36_000; i++) decide(policy, random, `id${i}`, t1 + i * 100);
  // The clock goes back 6 h and stays there.
  let reviews = 0;
  for (let j = 0; j < 36_000; j++, i++) if (decide(policy, random, `id${i}`, t0 + hour + j * 100)) reviews++;
  assert.ok(Math.abs(reviews / 120 - 1) <= 0.25, `${reviews} reviews in the hour after the clock went back (K 120)`);
  assert.ok(Math.abs((policy.localRate('m', t0 + 2 * hour) as number) / 36_000 - 1) <= 0.02);
});
