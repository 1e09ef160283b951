import type { ReviewItem } from '@gradcam/contracts';

/** A pending pool item for the tests: model `m`, class 2, sampled with `priority` at `sampledAt`. */
export const testItem = (id: string, priority: number, model = 'm', sampledAt = 1_000): ReviewItem => ({
  inferenceId: id,
  model,
  modelVersion: 'v1',
  folder: `m/v1/dt=2026-11-26/${id}/`,
  predictedClass: 2,
  label: 'Neutral',
  probability: 0.6,
  sampling: { sampled: true, policy: 'confidence<0.7', reason: 'low-confidence', priority },
  sampledAt,
  status: 'pending',
});
