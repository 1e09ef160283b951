import { createHash } from 'node:crypto';
import type { CapturePolicy } from '@gradcam/config';
import type { CaptureDecision, Prediction } from '@gradcam/contracts';

/**
 * A number in [0, 1) fixed by the inference id alone, so the same id gets the same decision on
 * every ingest process and in any later replay of the policy.
 */
export function idFraction(id: string): number {
  const digest = createHash('sha256').update(id).digest();
  return digest.readUInt32BE(0) / 2 ** 32;
}

/** Decides whether one inference is explained, and why. Terms are checked most specific first. */
export function decideCapture(policy: CapturePolicy, id: string, prediction: Prediction | undefined): CaptureDecision {
  const decision = (explain: boolean, reason: CaptureDecision['reason']): CaptureDecision => ({ explain, reason, policy: policy.text });
  if (policy.all) return decision(true, 'all');
  const scores = prediction?.scores;
  if (policy.confidenceBelow > 0 && scores && scores.length > 0 && Math.max(...scores) < policy.confidenceBelow) {
    return decision(true, 'low-confidence');
  }
  if (prediction && policy.classes.includes(prediction.classIndex)) return decision(true, 'class');
  if (policy.rate > 0 && idFraction(id) < policy.rate) return decision(true, 'rate');
  return decision(false, 'not-sampled');
}
