import { normal, type Random } from './seeded-random.ts';

/** Content-moderation-like class mix: one common class, a long tail of rare ones. */
export const defaultClassPrior: readonly number[] = [0.55, 0.25, 0.12, 0.06, 0.02];

/**
 * How far the true class's logit stands above the others': most production predictions are
 * confident (p ≈ 0.99+), some fairly confident, a few torn between classes.
 */
const regimes: readonly { readonly share: number; readonly mean: number; readonly sd: number }[] = [
  { share: 0.8, mean: 7, sd: 1.5 },
  { share: 0.15, mean: 3, sd: 1 },
  { share: 0.05, mean: 0.5, sd: 0.7 },
];

const regimeShares = regimes.map((r) => r.share);

export interface SyntheticPrediction {
  readonly predictedClass: number;
  readonly probabilities: number[];
}

function pick(random: Random, weights: readonly number[]): number {
  let r = random();
  for (let i = 0; i < weights.length; i++) {
    r -= weights[i] as number;
    if (r < 0) return i;
  }
  return weights.length - 1;
}

/** Softmax of N(0, 1) logits with the true class lifted by a margin drawn from `regimes`. */
export function syntheticPrediction(random: Random, prior: readonly number[] = defaultClassPrior): SyntheticPrediction {
  const trueClass = pick(random, prior);
  const regime = regimes[pick(random, regimeShares)] as (typeof regimes)[number];
  // One array, turned from logits into probabilities in place: the bench makes a million of these.
  // Pushed rather than preallocated: a packed array, as a parsed JSON array of scores would be.
  const p: number[] = [];
  let max = -Infinity;
  for (let i = 0; i < prior.length; i++) {
    p.push(normal(random) + (i === trueClass ? regime.mean + regime.sd * normal(random) : 0));
    max = Math.max(max, p[i] as number);
  }
  let sum = 0;
  for (let i = 0; i < p.length; i++) sum += p[i] = Math.exp((p[i] as number) - max);
  let predictedClass = 0;
  for (let i = 0; i < p.length; i++) {
    p[i] = (p[i] as number) / sum;
    if ((p[i] as number) > (p[predictedClass] as number)) predictedClass = i;
  }
  return { predictedClass, probabilities: p };
}
