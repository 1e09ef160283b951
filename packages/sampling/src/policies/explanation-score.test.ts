import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decideReview } from '../review-policy.ts';
import { blobMap, reviewInput, reviewMap } from '../testing/review-inputs.ts';
import { explanationScore } from './explanation-score.ts';

const all = explanationScore({ borderAbove: 0.6, entropyAbove: 0.95, entropyBelow: 0.1, overlapBelow: 0.2 });

const why = (maps: Parameters<typeof reviewInput>[0]) => {
  const d = decideReview(all, reviewInput(maps));
  return d.sampled ? [d.term, d.reason, d.detail] : d.reason;
};

test('describes its rules in a fixed order', () => {
  assert.equal(all.describe(), 'border>0.6|entropy>0.95|entropy<0.1|overlap<0.2');
  assert.equal(explanationScore({ overlapBelow: 0.3, borderAbove: 0.5 }).describe(), 'border>0.5|overlap<0.3');
  assert.throws(() => explanationScore({}), RangeError);
  assert.throws(() => explanationScore({ borderAbove: 2 }), RangeError);
});

test('each rule fires with its own reason, on maps of the predicted class only', () => {
  assert.deepEqual(why({ maps: [reviewMap({ classIndex: 0, borderMass: 0.7 })] }), ['border>0.6', 'border-mass', 'gradcam map of class 0: border mass 0.7>0.6']);
  assert.deepEqual(why({ maps: [reviewMap({ classIndex: 0, entropy: 0.97, method: 'layercam' })] }), ['entropy>0.95', 'diffuse-map', 'layercam map of class 0: entropy 0.97>0.95']);
  assert.deepEqual(why({ maps: [reviewMap({ classIndex: 0, entropy: 0.05 })] }), ['entropy<0.1', 'peaked-map', 'gradcam map of class 0: entropy 0.05<0.1']);
  assert.equal(why({ maps: [reviewMap({ classIndex: 3, borderMass: 0.9, entropy: 0.99 })] }), 'not-sampled');
  assert.equal(why({ maps: [reviewMap({ classIndex: 0 })] }), 'not-sampled');
  assert.equal(why({ maps: [] }), 'not-sampled');
});

test('entropy<X skips a map with no mass: the engine gives it entropy 0, yet it is not peaked', () => {
  const empty = reviewMap({ classIndex: 0, normalized: new Float32Array(49), borderMass: 0, entropy: 0 });
  assert.equal(why({ maps: [empty] }), 'not-sampled');
  const hot = new Float32Array(49);
  hot[10] = 1;
  assert.deepEqual(why({ maps: [empty, reviewMap({ classIndex: 0, normalized: hot, borderMass: 1, entropy: 0, method: 'layercam' })] }).slice(0, 2), ['border>0.6', 'border-mass']);
  assert.deepEqual(why({ maps: [reviewMap({ classIndex: 0, normalized: hot, borderMass: 0, entropy: 0 })] }), ['entropy<0.1', 'peaked-map', 'gradcam map of class 0: entropy 0<0.1']);
});

test('low overlap between the top-2 classes maps fires when both were computed', () => {
  const apart = [reviewMap({ classIndex: 0, normalized: blobMap(7, 7, 0, 0, 0.8) }), reviewMap({ classIndex: 2, normalized: blobMap(7, 7, 6, 6, 0.8) })];
  const result = why({ probabilities: [0.5, 0.1, 0.4], maps: apart });
  assert.deepEqual(result.slice(0, 2), ['overlap<0.2', 'class-maps-disagree']);
  assert.match(String(result[2]), /^gradcam maps of classes 0 and 2: overlap [\d.e-]+<0\.2$/);
  const together = [reviewMap({ classIndex: 0 }), reviewMap({ classIndex: 2 })];
  assert.equal(why({ probabilities: [0.5, 0.1, 0.4], maps: together }), 'not-sampled');
  // The runner-up (class 1 here) has no map: nothing to compare.
  assert.equal(why({ probabilities: [0.5, 0.4, 0.1], maps: apart }), 'not-sampled');
});

test('the first rule that fires is the one recorded', () => {
  const both = [reviewMap({ classIndex: 0, borderMass: 0.9, entropy: 0.99 })];
  assert.equal(decideReview(all, reviewInput({ maps: both })).reason, 'border-mass');
});
