import type { ReviewItem } from '@gradcam/contracts';

/** A pending review item of model `m` for the service's tests, sampled a second ago unless `extra` says otherwise. */
export const reviewItem = (id: string, extra: Partial<ReviewItem> = {}): ReviewItem => ({
  inferenceId: id,
  model: 'm',
  modelVersion: 'v1',
  folder: `m/v1/dt=2026-11-26/${id}/`,
  predictedClass: 1,
  label: 'Cat',
  probability: 0.5,
  sampling: { sampled: true, policy: 'p', reason: 'r', priority: 0.5 },
  sampledAt: Date.now() - 1_000,
  status: 'pending',
  ...extra,
});
