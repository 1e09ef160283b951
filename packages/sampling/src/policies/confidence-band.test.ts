import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decideReview } from '../review-policy.ts';
import { reviewInput } from '../testing/review-inputs.ts';
import { confidenceBand } from './confidence-band.ts';

test('below: top probability under the threshold, with its reason and numbers', () => {
  const policy = confidenceBand({ below: 0.6 });
  assert.equal(policy.describe(), 'confidence<0.6');
  const decision = decideReview(policy, reviewInput({ probabilities: [0.3, 0.55, 0.15] }));
  assert.deepEqual(
    { sampled: decision.sampled, term: decision.term, reason: decision.reason, detail: decision.detail },
    { sampled: true, term: 'confidence<0.6', reason: 'low-confidence', detail: 'top probability 0.55<0.6' },
  );
  assert.equal(decideReview(policy, reviewInput({ probabilities: [0.6, 0.4] })).sampled, false);
  assert.equal(decideReview(policy, reviewInput({ probabilities: [] })).sampled, false);
});

test('between: lo ≤ top < hi', () => {
  const policy = confidenceBand({ between: [0.4, 0.6] });
  assert.equal(policy.describe(), 'confidence=0.4..0.6');
  const top = (p: number) => decideReview(policy, reviewInput({ probabilities: [p, 1 - p] })).sampled;
  assert.deepEqual([0.5, 0.59].map(top), [true, true]);
  assert.deepEqual([0.61, 0.99].map(top), [false, false]);
  assert.equal(decideReview(policy, reviewInput({ probabilities: [0.4, 0.35, 0.25] })).reason, 'confidence-band');
  assert.equal(decideReview(policy, reviewInput({ probabilities: [0.39, 0.35, 0.26] })).sampled, false);
  assert.throws(() => confidenceBand({ between: [0.6, 0.4] }), RangeError);
});
