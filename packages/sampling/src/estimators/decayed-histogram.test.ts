import assert from 'node:assert/strict';
import { test } from 'node:test';
import { seededRandom, type Random } from '../testing/seeded-random.ts';
import { normal } from '../testing/seeded-random.ts';
import { DecayedHistogram } from './decayed-histogram.ts';

const distributions: Record<string, (random: Random) => number> = {
  uniform: (r) => r(),
  'cubed uniform (skewed to 0)': (r) => r() ** 3,
  'normal(0.5, 0.1) clipped': (r) => Math.min(1, Math.max(0, 0.5 + 0.1 * normal(r))),
  // The shape of real priorities: most near 0 (confident, plain maps), a thin uniform tail.
  'priority-like: 95% in [0, 0.05], 5% uniform': (r) => (r() < 0.95 ? 0.05 * r() : r()),
};

/** Share of the sorted sample at or above v (binary search). */
function shareAtOrAbove(sorted: Float64Array, v: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((sorted[mid] as number) < v) lo = mid + 1;
    else hi = mid;
  }
  return (sorted.length - lo) / sorted.length;
}

for (const [name, draw] of Object.entries(distributions)) {
  test(`quantiles match a sorted array: ${name}`, () => {
    const random = seededRandom(42);
    const n = 200_000;
    const values = new Float64Array(n);
    const histogram = new DecayedHistogram({ halfLifeMs: Infinity });
    for (let i = 0; i < n; i++) {
      values[i] = draw(random);
      histogram.add(values[i] as number, i);
    }
    values.sort();
    for (const q of [0.01, 0.1, 0.5, 0.9, 0.99, 0.999, 0.9997]) {
      const estimate = histogram.quantile(q) as number;
      const exact = values[Math.min(n - 1, Math.ceil(q * n) - 1)] as number;
      // In value: within one bin (1/2048). In rank: the share above the estimate within 5% of
      // 1 − q (relative: what matters for a budget is how many get through) or 0.05% absolute.
      assert.ok(Math.abs(estimate - exact) <= 1 / 2048 + 1e-9, `q=${q}: ${estimate} vs exact ${exact}`);
      const above = shareAtOrAbove(values, estimate);
      assert.ok(Math.abs(above - (1 - q)) <= Math.max(0.0005, 0.05 * (1 - q)), `q=${q}: ${above} above vs ${1 - q}`);
    }
  });
}

test('old observations fade with the half-life', () => {
  const random = seededRandom(7);
  const minute = 60_000;
  const histogram = new DecayedHistogram({ halfLifeMs: 10 * minute });
  const steady = new DecayedHistogram({ halfLifeMs: Infinity });
  // An hour of values in [0, 0.5), then an hour in [0.5, 1): after six half-lives the first hour
  // weighs 2^-6 ≈ 1.6% of the second.
  for (let i = 0; i < 120_000; i++) {
    const at = i * (minute / 1000);
    const value = i < 60_000 ? 0.5 * random() : 0.5 + 0.5 * random();
    histogram.add(value, at);
    steady.add(value, at);
  }
  const median = histogram.quantile(0.5) as number;
  assert.ok(Math.abs(median - 0.754) < 0.01, `decayed median ${median}`);
  assert.ok(Math.abs((steady.quantile(0.5) as number) - 0.5) < 0.01);
});

test('rescaling keeps the weights finite over hundreds of half-lives', () => {
  const histogram = new DecayedHistogram({ halfLifeMs: 1000, bins: 16 });
  for (let t = 0; t < 1_000_000; t += 100) histogram.add(t < 990_000 ? 0.1 : 0.9, t);
  assert.ok(Number.isFinite(histogram.weight) && histogram.weight > 0);
  // The 0.1s stopped ten half-lives ago: they weigh 2^-10 of what they did, ~0.1% of the total.
  assert.ok((histogram.quantile(0.01) as number) > 0.85, `${histogram.quantile(0.01)}`);
});

test('edge cases: empty, share 0 and 1, out-of-range values', () => {
  const histogram = new DecayedHistogram({ halfLifeMs: Infinity, bins: 4 });
  assert.equal(histogram.quantile(0.5), undefined);
  histogram.add(-3, 0);
  histogram.add(7, 0);
  histogram.add(Number.NaN, 0);
  assert.equal(histogram.weight, 3);
  assert.equal(histogram.upperQuantile(1), 0);
  assert.equal(histogram.upperQuantile(0), 1);
  assert.equal(histogram.upperQuantile(1 / 3), 0.75);
});

test('weight is counted in units of the latest observation, and weightAt(now) decays it to now', () => {
  const hour = 3_600_000;
  const t0 = Date.UTC(2026, 0, 1);
  const histogram = new DecayedHistogram({ halfLifeMs: hour });
  histogram.add(0.5, t0);
  histogram.add(0.5, t0 + 24 * hour);
  // Measured from the first observation, two observations 24 h apart weighed 16,777,217: a model
  // whose first event was old looked mature after a handful of new ones.
  assert.ok(Math.abs(histogram.weight - 1) < 1e-6, `${histogram.weight}`);
  assert.equal(histogram.weightAt(t0 + 24 * hour), histogram.weight);
  // Not before the latest observation; ten half-lives after it, a thousandth.
  assert.equal(histogram.weightAt(t0), histogram.weight);
  assert.ok(Math.abs(histogram.weightAt(t0 + 34 * hour) * 1024 - histogram.weight) < 1e-9);
  assert.equal(new DecayedHistogram({ halfLifeMs: hour }).weightAt(t0), 0);
  // An hour of 10/s: ~ 36,000 × (1 − 2^−1) / (1 − 2^(−1 s / 1 h)) ≈ 26,000 units of the latest.
  const busy = new DecayedHistogram({ halfLifeMs: hour });
  for (let i = 0; i < 36_000; i++) busy.add(0.5, t0 + i * 100);
  const expected = 36_000 * 0.5 / (1 - 2 ** (-1 / 3600)) / 3600;
  assert.ok(Math.abs(busy.weight / expected - 1) < 0.01, `${busy.weight} vs ${expected}`);
});

test('an observation stamped ahead of the clock, then the clock corrected: later ones still weigh', () => {
  // A worker clock a year ahead for one decision, then set back by NTP. The stamp ahead moved the
  // origin (past 200 half-lives): every later observation weighed 2^−8760 = 0, and the quantiles
  // stood on that one observation until real time caught up a year later.
  const hour = 3_600_000;
  const t0 = Date.UTC(2026, 0, 1);
  for (const ahead of [6 * hour, 365 * 24 * hour]) {
    const histogram = new DecayedHistogram({ halfLifeMs: hour });
    for (let i = 0; i < 1000; i++) histogram.add(0.1, t0 + i * 1000);
    histogram.add(0.95, t0 + 1000 * 1000 + ahead);
    for (let i = 0; i < 36_000; i++) histogram.add(0.5, t0 + 1000 * 1000 + i * 100);
    assert.ok(Math.abs((histogram.quantile(0.5) as number) - 0.5) < 0.001, `+${ahead / hour} h: median ${histogram.quantile(0.5)}`);
    // The stamp ahead counts as one observation, not 2^6 or 2^8760 of them.
    assert.ok((histogram.upperQuantile(0.001) as number) < 0.6, `+${ahead / hour} h: top 0.1% from ${histogram.upperQuantile(0.001)}`);
    assert.ok(Number.isFinite(histogram.weight) && histogram.weight > 20_000, `${histogram.weight}`);
  }
});
