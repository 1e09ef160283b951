import { z } from 'zod';

/**
 * Why a stored explanation was (or was not) sent to human review. A closed set, so it can be a
 * metrics label; the numbers behind it go to `detail`.
 */
export const reviewReasonSchema = z.enum([
  'rate',
  'low-confidence',
  'confidence-band',
  'class-quota',
  'border-mass',
  'diffuse-map',
  'peaked-map',
  'class-maps-disagree',
  'priority',
  'not-sampled',
]);
export type ReviewReason = z.infer<typeof reviewReasonSchema>;

/**
 * The decision recorded with an explanation. `policy` is the whole configured policy
 * (`describe()`), `term` the part of it that selected the explanation. With a budget term, every
 * decision (sampled or not) records `rank` and `threshold`, and the budget selected it iff
 * rank ≥ threshold, so an audit can check it without replaying the stream: rank ≥ threshold means
 * sampled, and a sampled decision with rank < threshold was selected by another term (`term`).
 * `priority` is not what the budget compares: `rank` is the priority's histogram bin with its
 * position in the bin drawn from the id (budget-rank.ts), within one bin of the priority.
 */
export const reviewDecisionSchema = z.object({
  sampled: z.boolean(),
  policy: z.string(),
  term: z.string().optional(),
  reason: reviewReasonSchema,
  detail: z.string().optional(),
  /** `priorityScore(input)`, 0…1. */
  priority: z.number().min(0).max(1),
  /** The budget's threshold in force for this decision (its term fired iff rank ≥ threshold). */
  threshold: z.number().min(0).max(1).optional(),
  /** What the budget compared with `threshold`: the priority moved within its bin by the id, 0…1. */
  rank: z.number().min(0).max(1).optional(),
});
export type ReviewDecision = z.infer<typeof reviewDecisionSchema>;
