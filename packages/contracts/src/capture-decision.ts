import { z } from 'zod';

/** Why capture sampling did or did not send an inference to be explained. */
export const captureReasonSchema = z.enum(['all', 'rate', 'low-confidence', 'class', 'not-sampled']);
export type CaptureReason = z.infer<typeof captureReasonSchema>;

export const captureDecisionSchema = z.object({
  explain: z.boolean(),
  reason: captureReasonSchema,
  /** The policy in force, as configured (e.g. `rate=0.1,confidence<0.6`), so audits can replay it. */
  policy: z.string(),
});
export type CaptureDecision = z.infer<typeof captureDecisionSchema>;
