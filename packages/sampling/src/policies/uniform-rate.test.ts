import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decideReview } from '../review-policy.ts';
import { reviewInput } from '../testing/review-inputs.ts';
import { uniformRate } from './uniform-rate.ts';

test('samples the given share of ids, the same ids every time, with its reason', () => {
  const policy = uniformRate(0.1);
  assert.equal(policy.describe(), 'rate=0.1');
  let sampled = 0;
  for (let i = 0; i < 50_000; i++) {
    const input = reviewInput({ id: `req-${i}` });
    const decision = decideReview(policy, input);
    // A fresh policy and another time of day: same id, same decision.
    assert.equal(decideReview(uniformRate(0.1), { ...input, now: input.now + 12_345 }).sampled, decision.sampled);
    if (decision.sampled) {
      sampled++;
      assert.equal(decision.reason, 'rate');
      assert.equal(decision.term, 'rate=0.1');
    }
  }
  assert.ok(Math.abs(sampled - 5000) < 300, `${sampled}`);
});

test('rate 0 samples nothing, rate 1 everything; out-of-range rates are refused', () => {
  assert.equal(decideReview(uniformRate(0), reviewInput()).sampled, false);
  assert.equal(decideReview(uniformRate(1), reviewInput()).sampled, true);
  assert.throws(() => uniformRate(1.5), RangeError);
  assert.throws(() => uniformRate(Number.NaN), RangeError);
});
