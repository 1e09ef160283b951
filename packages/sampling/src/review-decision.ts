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
 * (`describe()`), `term` the part of it that selected the explanation; with `priority` and
 * `threshold` an audit can check a budget decision without replaying the stream.
 */
export const reviewDecisionSchema = z.object({
  sampled: z.boolean(),
  policy: z.string(),
  term: z.string().optional(),
  reason: reviewReasonSchema,
  detail: z.string().optional(),
  /** `priorityScore(input)`, 0…1. */
  priority: z.number().min(0).max(1),
  /** The budget's threshold in force for this decision (sampled iff priority ≥ threshold). */
  threshold: z.number().min(0).max(1).optional(),
});
export type ReviewDecision = z.infer<typeof reviewDecisionSchema>;
