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
