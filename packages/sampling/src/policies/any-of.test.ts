import assert from 'node:assert/strict';
import { test } from 'node:test';
import { reviewDecisionSchema } from '../review-decision.ts';
import { decideReview, type ReviewPolicy } from '../review-policy.ts';
import { reviewInput, reviewMap } from '../testing/review-inputs.ts';
import { anyOf } from './any-of.ts';
import { budget } from './budget.ts';
import { classQuota } from './class-quota.ts';
import { confidenceBand } from './confidence-band.ts';
import { explanationScore } from './explanation-score.ts';
import { uniformRate } from './uniform-rate.ts';

test('the decision names the whole policy and the first term that fired, with its reason', () => {
  const policy = anyOf(confidenceBand({ below: 0.6 }), explanationScore({ borderAbove: 0.5 }), uniformRate(0));
  assert.equal(policy.describe(), 'confidence<0.6|border>0.5|rate=0');
  const border = decideReview(policy, reviewInput({ maps: [reviewMap({ classIndex: 0, borderMass: 0.8 })] }));
  assert.deepEqual(
    { sampled: border.sampled, policy: border.policy, term: border.term, reason: border.reason },
    { sampled: true, policy: 'confidence<0.6|border>0.5|rate=0', term: 'border>0.5', reason: 'border-mass' },
  );
  const both = decideReview(policy, reviewInput({ probabilities: [0.5, 0.5], maps: [reviewMap({ classIndex: 0, borderMass: 0.8 })] }));
  assert.equal(both.term, 'confidence<0.6');
  const none = decideReview(policy, reviewInput());
  assert.deepEqual({ sampled: none.sampled, reason: none.reason, term: none.term }, { sampled: false, reason: 'not-sampled', term: undefined });
  reviewDecisionSchema.parse(none);
});

test('nested anyOf flattens; one policy is itself; none is an error', () => {
  const a = uniformRate(0.1);
  assert.equal(anyOf(a), a);
  assert.equal(anyOf(anyOf(a, uniformRate(0.2)), confidenceBand({ below: 0.5 })).describe(), 'rate=0.1|rate=0.2|confidence<0.5');
  assert.throws(() => anyOf(), RangeError);
});

test('every term sees every input, so stateful terms do not depend on the order', () => {
  const stream = Array.from({ length: 5000 }, (_, i) =>
    reviewInput({ id: `req-${i}`, probabilities: i % 3 === 0 ? [0.5, 0.5] : [0.99, 0.01], predictedClass: i % 4, now: Date.UTC(2026, 0, 1) + i * 500 }),
  );
  const run = (policy: ReviewPolicy) => stream.map((input) => decideReview(policy, input).sampled);
  const quotaFirst = run(anyOf(classQuota({ perClass: 3 }), confidenceBand({ below: 0.6 })));
  const quotaLast = run(anyOf(confidenceBand({ below: 0.6 }), classQuota({ perClass: 3 })));
  assert.deepEqual(quotaFirst, quotaLast);
});

test("the budget's threshold is recorded with every decision, whichever term fired", () => {
  const policy = anyOf(confidenceBand({ below: 0.6 }), budget({ reviewsPerHour: 60 }));
  assert.equal(typeof policy.threshold, 'function');
  let last: number | undefined;
  for (let i = 0; i < 3000; i++) {
    const decision = decideReview(policy, reviewInput({ id: `r${i}`, probabilities: i % 10 === 0 ? [0.5, 0.5] : [0.99, 0.01], now: Date.UTC(2026, 0, 1) + i * 1000 }));
    assert.equal(typeof decision.threshold, 'number');
    if (decision.term === 'confidence<0.6') assert.equal(decision.reason, 'low-confidence');
    last = decision.threshold;
  }
  assert.equal(policy.threshold?.('m'), last);
  assert.equal(anyOf(uniformRate(0.1), confidenceBand({ below: 0.5 })).threshold, undefined);
});

test("the budget's own threshold and traffic estimate are the whole policy's too (a worker publishes the one and floors a presumed fleet rate with the other)", () => {
  const inner = budget({ reviewsPerHour: 60 });
  const policy = anyOf(confidenceBand({ below: 0.6 }), inner);
  const t0 = Date.UTC(2026, 0, 1);
  for (let i = 0; i < 600; i++) decideReview(policy, reviewInput({ id: `r${i}`, now: t0 + i * 1000 }));
  assert.equal(policy.ownThreshold?.('m'), inner.ownThreshold('m'));
  assert.equal(policy.ownThresholdPlaced?.('m'), true, '600 events at a share of 1/60: 10 expected above');
  assert.equal(policy.localRate?.('m', t0 + 600_000), inner.localRate('m', t0 + 600_000));
  assert.ok(Math.abs((policy.localRate?.('m', t0 + 600_000) ?? 0) / 3600 - 1) < 0.05, 'one a second');
  assert.equal(anyOf(uniformRate(0.1), confidenceBand({ below: 0.5 })).localRate, undefined);
});
