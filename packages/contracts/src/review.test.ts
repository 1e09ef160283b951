import assert from 'node:assert/strict';
import { test } from 'node:test';
import { reviewSamplingSchema } from './review.ts';

test('a budget decision keeps its rank and threshold through the schema (so an audit can check rank ≥ threshold)', () => {
  const decision = { sampled: false, policy: 'budget(K=60/h)', term: 'budget(K=60/h)', reason: 'below-threshold', priority: 0.7, threshold: 0.72, rank: 0.71 };
  assert.deepEqual(reviewSamplingSchema.parse(JSON.parse(JSON.stringify(decision))), decision);
  assert.throws(() => reviewSamplingSchema.parse({ ...decision, rank: 1.5 }));
});
