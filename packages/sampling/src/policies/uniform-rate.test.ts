import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decideReview } from '../review-policy.ts';
import { reviewInput } from '../testing/review-inputs.ts';
import { parseReviewPolicy } from '../parse-review-policy.ts';
import { inUniformDraw, uniformRate } from './uniform-rate.ts';

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

test('inUniformDraw: the ids the rate= term of a recorded policy takes, whichever term a decision names', () => {
  const policy = parseReviewPolicy('budget=60,rate=0.1,confidence<0.6');
  const recorded = policy.describe();
  let drawn = 0;
  for (let i = 0; i < 20_000; i++) {
    const id = `req-${i}`;
    const taken = decideReview(uniformRate(0.1), reviewInput({ id })).sampled;
    assert.equal(inUniformDraw(recorded, id), taken, id);
    assert.equal(inUniformDraw('rate=0.1', id), taken);
    if (taken) drawn++;
  }
  assert.ok(drawn > 1_800 && drawn < 2_200, `${drawn}`);
  assert.equal(inUniformDraw('rate=1', 'any'), true);
  assert.equal(inUniformDraw('rate=0', 'any'), false);
  for (const other of ['budget=60/h', 'confidence<0.6|class-quota=5/h', 'p', '', 'rate=x', 'rate=2']) assert.equal(inUniformDraw(other, 'req-1'), false, other);
});
