import { formatNumber, formatParameter, notSampled, type ReviewPolicy } from '../review-policy.ts';
import { topTwo } from '../top-two.ts';

/** `below`: top probability < below. `between`: lo ≤ top probability < hi. */
export type ConfidenceBandOptions = { readonly below: number } | { readonly between: readonly [number, number] };

/**
 * Explanations whose top class probability falls in a band: the model's hesitations are where
 * reviewers learn most. Inputs without probabilities never match.
 */
export function confidenceBand(options: ConfidenceBandOptions): ReviewPolicy {
  const [lo, hi] = 'below' in options ? [0, options.below] : options.between;
  if (!(lo >= 0 && hi <= 1 && lo < hi)) throw new RangeError(`confidenceBand: need 0 ≤ lo < hi ≤ 1, got [${lo}, ${hi})`);
  const below = 'below' in options;
  const text = below ? `confidence<${formatParameter(hi)}` : `confidence=${formatParameter(lo)}..${formatParameter(hi)}`;
  const reason = below ? 'low-confidence' : 'confidence-band';
  const no = notSampled(text);
  return {
    describe: () => text,
    decide: (input) => {
      const top = topTwo(input.probabilities);
      if (top.firstClass < 0 || top.first < lo || top.first >= hi) return no;
      const detail = below ? `top probability ${formatNumber(top.first)}<${formatNumber(hi)}` : `top probability ${formatNumber(top.first)} in [${formatNumber(lo)}, ${formatNumber(hi)})`;
      return { sampled: true, term: text, reason, detail };
    },
  };
}
