import { suspicionScore } from './map-suspicion.ts';
import type { ReviewInput } from './review-input.ts';
import { type TopTwo, topTwo } from './top-two.ts';

/**
 * Margin uncertainty, 1 − (p1 − p2): 0 for a certain prediction, 1 for a tie between the top two.
 * The margin rather than 1 − p1 because a 0.45/0.44 split is more worth a look than 0.45 spread
 * over five classes. No probabilities: 0 (nothing says the model hesitated).
 */
export function uncertainty(probabilities: readonly number[], top: TopTwo = topTwo(probabilities)): number {
  if (top.firstClass < 0) return 0;
  const u = 1 - (top.first - top.second);
  return u > 0 ? (u < 1 ? u : 1) : 0;
}

/**
 * The one priority score (0…1) of a stored explanation: reviewers' queues sort by it and the
 * budget policy thresholds it. A noisy-OR of the model's uncertainty and the heatmaps' suspicion,
 * 1 − (1 − u)(1 − s): either signal alone can put an explanation at the top, both together rank
 * it higher still, and neither can pull the other down.
 */
export function priorityScore(input: ReviewInput): number {
  const top = topTwo(input.probabilities);
  const u = uncertainty(input.probabilities, top);
  const s = input.maps.length === 0 ? 0 : suspicionScore(input, top);
  return 1 - (1 - u) * (1 - s);
}
