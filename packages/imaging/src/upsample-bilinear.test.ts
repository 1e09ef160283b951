import { test } from 'node:test';
import assert from 'node:assert/strict';
import { upsampleBilinear } from './upsample-bilinear.ts';

test('a constant map stays constant', () => {
  const out = upsampleBilinear(new Float32Array(49).fill(0.3), 7, 7, 224, 150);
  assert.equal(out.length, 224 * 150);
  for (const v of out) assert.equal(v, Math.fround(0.3));
});

test('2×2 → 4×4 gives the half-pixel-centre (align_corners=false) values', () => {
  // Same as torch.nn.functional.interpolate(x, size=4, mode='bilinear', align_corners=False).
  const out = upsampleBilinear(Float32Array.from([0, 1, 2, 3]), 2, 2, 4, 4);
  assert.deepEqual(Array.from(out), [
    0, 0.25, 0.75, 1,
    0.5, 0.75, 1.25, 1.5,
    1.5, 1.75, 2.25, 2.5,
    2, 2.25, 2.75, 3,
  ]);
});

test('same size is the identity', () => {
  const map = Float32Array.from({ length: 12 }, (_, i) => i * 0.1);
  assert.deepEqual(upsampleBilinear(map, 4, 3, 4, 3), map);
});

test('a ramp stays a ramp between the outer cell centres and clamps beyond them', () => {
  // Values 0…6 across 7 cells, stretched to 70 pixels: pixel x sits at map coordinate (x + 0.5)/10 − 0.5.
  const map = Float32Array.from({ length: 7 }, (_, i) => i);
  const out = upsampleBilinear(map, 7, 1, 70, 1);
  for (let x = 0; x < 70; x++) {
    const want = Math.min(Math.max((x + 0.5) / 10 - 0.5, 0), 6);
    assert.ok(Math.abs(out[x]! - want) < 1e-5, `x=${x}: ${out[x]} vs ${want}`);
  }
});

test('a 1×1 map fills the output', () => {
  assert.deepEqual(Array.from(upsampleBilinear(Float32Array.of(0.7), 1, 1, 3, 2)), new Array(6).fill(Math.fround(0.7)));
});

test('rejects a map whose length does not match its size', () => {
  assert.throws(() => upsampleBilinear(new Float32Array(48), 7, 7, 10, 10), RangeError);
  assert.throws(() => upsampleBilinear(new Float32Array(49), 7, 7, 0, 10), RangeError);
});
