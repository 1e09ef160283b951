import assert from 'node:assert/strict';
import { test } from 'node:test';
import { histogramIntersection } from './map-overlap.ts';
import { blobMap } from './testing/review-inputs.ts';

test('histogram intersection: 1 for the same map (any scale), 0 for disjoint maps', () => {
  const a = blobMap(7, 7, 3, 3, 1);
  const half = a.map((v) => v / 2);
  assert.ok(Math.abs((histogramIntersection(a, half) as number) - 1) < 1e-6);
  const left = new Float32Array(49);
  const right = new Float32Array(49);
  left[0] = 1;
  right[48] = 1;
  assert.equal(histogramIntersection(left, right), 0);
});

test('histogram intersection falls as two blobs move apart', () => {
  const centre = blobMap(7, 7, 3, 3, 1.2);
  const near = histogramIntersection(centre, blobMap(7, 7, 4, 3, 1.2)) as number;
  const far = histogramIntersection(centre, blobMap(7, 7, 6, 6, 1.2)) as number;
  assert.ok(near > far && far < 0.2 && near > 0.5, `near ${near}, far ${far}`);
});

test('an all-zero map counts as flat; maps of different sizes have no overlap', () => {
  const flat = new Float32Array(4);
  const one = Float32Array.from([1, 0, 0, 0]);
  assert.equal(histogramIntersection(flat, one), 0.25);
  assert.equal(histogramIntersection(one, new Float32Array(9)), undefined);
});
