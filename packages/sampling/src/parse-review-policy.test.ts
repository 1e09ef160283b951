import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ReviewPolicyError } from './errors/review-policy-error.ts';
import { parseReviewPolicy } from './parse-review-policy.ts';
import { decideReview } from './review-policy.ts';
import { reviewInput, reviewMap } from './testing/review-inputs.ts';

test('parses the terms into one composed policy, describing itself canonically', () => {
  const policy = parseReviewPolicy('budget=120, confidence<0.6, class-quota=5, border>0.5');
  assert.equal(policy.describe(), 'budget=120/h|confidence<0.6|class-quota=5/h|border>0.5');
  assert.equal(typeof policy.threshold, 'function');
  const decision = decideReview(policy, reviewInput({ maps: [reviewMap({ classIndex: 0, borderMass: 0.9 })] }));
  assert.equal(decision.policy, 'budget=120/h|confidence<0.6|class-quota=5/h|border>0.5');
});

test('explanation rules join into one term where the first stands; describe() parses back to itself', () => {
  for (const text of [
    'entropy>0.95,rate=0.01,border>0.5,overlap<0.2,entropy<0.1',
    'budget=30/h@30m|confidence=0.4..0.6|class-quota=2/30m',
    'class-quota=1/d',
    'none',
  ]) {
    const described = parseReviewPolicy(text).describe();
    assert.equal(parseReviewPolicy(described).describe(), described, text);
  }
  assert.equal(parseReviewPolicy('entropy>0.95,rate=0.01,border>0.5').describe(), 'border>0.5|entropy>0.95|rate=0.01');
});

test('describe() keeps every parameter exactly, so the recorded text is the configured policy', () => {
  for (const text of [
    'rate=0.1234567',
    'budget=1234567/h',
    'budget=60/h@20.57611666666667m',
    'class-quota=1234567/h',
    'class-quota=2.5/0.123456789m',
    // The shortest window allowed, one second, is accepted and written back the same.
    'budget=10/h@0.016666666666666666m',
    'class-quota=5/0.016666666666666666m',
    'confidence=0.12345678..0.87654321',
    'border>0.1234567|entropy>0.9876543|entropy<1e-7|overlap<0.3333333',
  ]) {
    assert.equal(parseReviewPolicy(text).describe(), text);
  }
});

test('the fleet-wide traffic rate reaches the budget', () => {
  const asked: string[] = [];
  const policy = parseReviewPolicy('budget=10', { trafficRate: (model) => (asked.push(model), 1e9) });
  decideReview(policy, reviewInput({ model: 'mobilenet' }));
  assert.deepEqual(asked, ['mobilenet']);
});

test('errors name the bad term, in one line', () => {
  const cases: [string, string, RegExp][] = [
    ['budget=120,confidance<0.6', 'confidance<0.6', /unknown term/],
    ['rate=1.5', 'rate=1.5', /0 to 1/],
    ['rate=', 'rate=', /0 to 1/],
    ['rate=0x1', 'rate=0x1', /decimal number from 0 to 1/],
    ['confidence<0b1', 'confidence<0b1', /decimal number from 0 to 1/],
    ['rate= 1e-1', 'rate= 1e-1', /decimal number from 0 to 1/],
    ['border>Infinity', 'border>Infinity', /decimal number from 0 to 1/],
    ['budget=0x10', 'budget=0x10', /decimal number > 0/],
    ['class-quota=1e400', 'class-quota=1e400', /reviews per class/],
    ['budget=abc', 'budget=abc', /reviews per hour/],
    ['budget=10/d', 'budget=10/d', /per hour/],
    ['budget=10@soon', 'budget=10@soon', /adaptation window/],
    ['class-quota=0', 'class-quota=0', /reviews per class/],
    ['class-quota=5/week', 'class-quota=5/week', /window/],
    // A count so large the window is Infinity ms: refused here, not by the policy's RangeError
    // (which the config did not turn into its one line naming the variable).
    ['class-quota=5/1e400m', 'class-quota=5/1e400m', /window/],
    ['class-quota=5/1e308d', 'class-quota=5/1e308d', /window/],
    ['budget=10@1e308d', 'budget=10@1e308d', /adaptation window/],
    // Windows under one second (shorter than any gap between events): @1e-9m reviewed nothing,
    // @1e-300m everything. Refused naming the smallest window allowed.
    ['budget=10@1e-9m', 'budget=10@1e-9m', /adaptation window must be at least one second \(@0\.016666666666666666m\)/],
    ['budget=10@1e-300m', 'budget=10@1e-300m', /at least one second/],
    ['budget=10@0.0166m', 'budget=10@0.0166m', /at least one second/],
    ['class-quota=5/1e-9m', 'class-quota=5/1e-9m', /window must be at least one second \(\/0\.016666666666666666m\)/],
    ['class-quota=5/1e-300d', 'class-quota=5/1e-300d', /at least one second/],
    ['confidence=0.6..0.4', 'confidence=0.6..0.4', /LO < HI/],
    ['confidence<0', 'confidence<0', /selects nothing/],
    ['rate=0.1,rate=0.2', 'rate=0.2', /given twice/],
    ['none,rate=0.1', 'none', /stands alone/],
    [' , ', ' , ', /empty/],
  ];
  for (const [text, term, reason] of cases) {
    assert.throws(
      () => parseReviewPolicy(text),
      (error: unknown) => {
        assert.ok(error instanceof ReviewPolicyError, text);
        assert.equal(error.code, 'REVIEW_POLICY_INVALID');
        assert.equal(error.term, term);
        assert.match(error.message, reason);
        assert.ok(error.message.startsWith(`"${term}": `) && !error.message.includes('\n'), error.message);
        return true;
      },
    );
  }
});
