import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mapSuspicion, ringShare } from './map-suspicion.ts';
import { priorityScore, uncertainty } from './priority-score.ts';
import { blobMap, reviewInput, reviewMap } from './testing/review-inputs.ts';

const close = (actual: number, expected: number) => assert.ok(Math.abs(actual - expected) < 1e-9, `${actual} ≠ ${expected}`);

test('uncertainty is the margin 1 − (p1 − p2): 0 when certain, 1 for a tie, 0 without scores', () => {
  close(uncertainty([1, 0, 0]), 0);
  close(uncertainty([0.45, 0.45, 0.1]), 1);
  close(uncertainty([0.2, 0.7, 0.1]), 0.5);
  close(uncertainty([]), 0);
});

test('border suspicion counts only mass beyond what a flat map puts on the ring', () => {
  close(ringShare(7, 7), 24 / 49);
  const flat = mapSuspicion(reviewInput({ maps: [reviewMap({ classIndex: 0, borderMass: 24 / 49, entropy: 0.6 })] }));
  close(flat.border, 0);
  const frame = mapSuspicion(reviewInput({ maps: [reviewMap({ classIndex: 0, borderMass: 1, entropy: 0.6 })] }));
  close(frame.border, 1);
  close(frame.score, 1);
});

test('diffuse and peaked maps ramp up at the ends of the entropy range; only predicted-class maps count', () => {
  const diffuse = mapSuspicion(reviewInput({ maps: [reviewMap({ classIndex: 0, entropy: 0.95 })] }));
  close(diffuse.diffuse, 0.5);
  const peaked = mapSuspicion(reviewInput({ maps: [reviewMap({ classIndex: 0, entropy: 0.05 })] }));
  close(peaked.peaked, 0.75);
  const otherClass = mapSuspicion(reviewInput({ maps: [reviewMap({ classIndex: 1, entropy: 0 })] }));
  close(otherClass.score, 0);
});

test('a map with no mass (all zero, entropy 0 from the engine) is not peaked; one hot cell still is', () => {
  const empty = reviewMap({ classIndex: 0, normalized: new Float32Array(49), borderMass: 0, entropy: 0 });
  const input = reviewInput({ probabilities: [0.99, 0.01], maps: [empty] });
  close(mapSuspicion(input).peaked, 0);
  close(mapSuspicion(input).score, 0);
  close(priorityScore(input), uncertainty([0.99, 0.01]));
  const hot = new Float32Array(49);
  hot[24] = 1;
  close(mapSuspicion(reviewInput({ maps: [reviewMap({ classIndex: 0, normalized: hot, borderMass: 0, entropy: 0 })] })).peaked, 1);
});

test('disagreement of the top-2 maps is weighted by how close the runner-up is', () => {
  const maps = [
    reviewMap({ classIndex: 0, normalized: blobMap(7, 7, 0, 0, 0.8) }),
    reviewMap({ classIndex: 1, normalized: blobMap(7, 7, 6, 6, 0.8) }),
  ];
  const torn = mapSuspicion(reviewInput({ probabilities: [0.5, 0.5], maps }));
  const sure = mapSuspicion(reviewInput({ probabilities: [0.98, 0.02], maps }));
  assert.ok(torn.disagreement > 0.95, `torn ${torn.disagreement}`);
  assert.ok(sure.disagreement < 0.03, `sure ${sure.disagreement}`);
  // Maps of another method for the second class do not pair up.
  const mixed = mapSuspicion(reviewInput({ probabilities: [0.5, 0.5], maps: [maps[0]!, { ...maps[1]!, method: 'layercam' }] }));
  close(mixed.disagreement, 0);
});

test('priority is the noisy-OR of uncertainty and suspicion, within 0…1', () => {
  close(priorityScore(reviewInput({ probabilities: [1, 0] })), 0);
  close(priorityScore(reviewInput({ probabilities: [0.6, 0.4] })), 0.8);
  const both = priorityScore(reviewInput({ probabilities: [0.6, 0.4], maps: [reviewMap({ classIndex: 0, entropy: 0.95 })] }));
  close(both, 1 - 0.2 * 0.5);
  close(priorityScore(reviewInput({ probabilities: [0.5, 0.5], maps: [reviewMap({ classIndex: 0, borderMass: 1 })] })), 1);
});
