import { priorityScore } from './priority-score.ts';
import type { ReviewDecision, ReviewReason } from './review-decision.ts';
import type { ReviewInput } from './review-input.ts';

/** A policy's answer for one input, before `decideReview` adds the policy text and priority. */
export interface PolicyVerdict {
  readonly sampled: boolean;
  /** `describe()` of the term that decided. */
  readonly term: string;
  readonly reason: ReviewReason;
  /** Human-readable numbers behind the reason; only set when sampled (formatting is not free). */
  readonly detail?: string;
  readonly threshold?: number;
  /** With `threshold`: the value the budget compared with it (its term fires iff rank ≥ threshold). */
  readonly rank?: number;
}

/**
 * A review-sampling policy. Deterministic: the same sequence of inputs (ids, contents, `now`)
 * gives the same verdicts, so an audit can replay them. Stateful policies (class quota, budget)
 * update their state in `decide`, once per input.
 */
export interface ReviewPolicy {
  /** Canonical text, accepted back by `parseReviewPolicy` (e.g. `budget=120/h|confidence<0.6`). */
  describe(): string;
  /** `priority` is `priorityScore(input)`, computed once per input by `decideReview`. */
  decide(input: ReviewInput, priority: number): PolicyVerdict;
  /** The budget's current priority threshold for a model (for metrics), when the policy has one. */
  readonly threshold?: (model: string) => number | undefined;
  /**
   * The threshold the budget's own histogram places for a model, not raised to the fleet's: what
   * a worker publishes for the fleet to read back as `fleetThreshold` (publishing the one in force
   * would pass each young process's rise to the next, see budget.ts).
   */
  readonly ownThreshold?: (model: string) => number | undefined;
  /**
   * Whether the budget's own histogram places that threshold itself (expects 5 events above it):
   * a worker publishes it for the fleet only then. A young one's is no better than any other young
   * process's, and a young process takes the higher of its own and the fleet's: a fleet whose
   * processes were all young raised each one's threshold to the higher of two equally noisy ones
   * (16 workers at K = 10/h reviewed about 0.6 × K for hours).
   */
  readonly ownThresholdPlaced?: (model: string) => boolean;
  /**
   * The budget's estimate of this process's own traffic of a model, events/h (undefined before its
   * first event), step guard included: what the budget takes where it is higher than a level the
   * provider presumes (`PresumedTrafficRate`), and what simulated fleets sum for a fleet rate.
   */
  readonly localRate?: (model: string, now: number) => number | undefined;
}

/** Runs a policy on one input and builds the decision to record with the explanation. */
export function decideReview(policy: ReviewPolicy, input: ReviewInput): ReviewDecision {
  const priority = priorityScore(input);
  const verdict = policy.decide(input, priority);
  const decision: { -readonly [K in keyof ReviewDecision]: ReviewDecision[K] } = {
    sampled: verdict.sampled,
    policy: policy.describe(),
    reason: verdict.reason,
    priority,
  };
  if (verdict.sampled) decision.term = verdict.term;
  if (verdict.detail !== undefined) decision.detail = verdict.detail;
  if (verdict.threshold !== undefined) decision.threshold = verdict.threshold;
  if (verdict.rank !== undefined) decision.rank = verdict.rank;
  return decision;
}

/** Shared by the policies: a verdict object per policy for the common "no" (no allocation). */
export function notSampled(term: string): PolicyVerdict {
  return Object.freeze({ sampled: false, term, reason: 'not-sampled' });
}

/**
 * A policy's parameter in `describe()`: exact (shortest round-trip form, e.g. `0.1234567`, `1e-7`),
 * so the recorded policy text parses back to the very same policy an audit replays.
 */
export function formatParameter(x: number): string {
  return String(x);
}

/** Six significant digits for measured values in details: no float noise like 0.30000000000000004. */
export function formatNumber(x: number): string {
  return String(Number(x.toPrecision(6)));
}
