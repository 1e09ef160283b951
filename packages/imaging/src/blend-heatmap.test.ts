import { test } from 'node:test';
import assert from 'node:assert/strict';
import { blendHeatmap } from './blend-heatmap.ts';
import { sharedColormapLut } from './colormap.ts';
import type { DecodedImage } from './decode-image.ts';

/**
 * Every byte value in every channel position, at an odd width (rows start at every alignment) and
 * optionally at an odd byte offset (no word access possible): the two paths through blendHeatmap.
 */
function noiseImage(width: number, height: number, byteOffset: number): DecodedImage {
  const backing = Buffer.alloc(width * height * 3 + byteOffset);
  let state = 12345;
  for (let i = 0; i < backing.length; i++) {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    backing[i] = state >>> 24;
  }
  return { data: backing.subarray(byteOffset), width, height, format: 'png' };
}

/** The documented per-pixel formula, for a constant map value (interpolation is then exact). */
function blendedByte(pixel: number, colour: number, alpha: number): number {
  const a = Math.round(alpha * 256);
  return (pixel * (256 - a) + colour * a + 128) >> 8;
}

for (const byteOffset of [0, 1]) {
  test(`every pixel follows the fixed-point blend exactly (byte offset ${byteOffset})`, () => {
    const image = noiseImage(37, 23, byteOffset);
    const lut = sharedColormapLut('turbo');
    for (const alpha of [0, 0.45, 1]) {
      for (const value of [0, 0.3, 1]) {
        const out = blendHeatmap(image, new Float32Array(9).fill(value), 3, 3, { width: 224, height: 224, fit: 'fill' }, lut, alpha);
        const entry = Math.round(Math.fround(value) * 255) * 3;
        for (let i = 0; i < out.length; i++) {
          const want = blendedByte(image.data[i]!, lut[entry + (i % 3)]!, alpha);
          if (out[i] !== want) assert.fail(`alpha ${alpha}, value ${value}, byte ${i}: ${out[i]} instead of ${want}`);
        }
      }
    }
  });
}

test('cover: columns the model never saw are copied byte for byte, the rest is blended', () => {
  // 41×20 covered onto 20×20: no scaling, 11 columns cropped on the left and 10 on the right
  // (sharp takes the odd one from the left), so image x 11…30 is what the model saw.
  const image = noiseImage(41, 20, 0);
  const lut = sharedColormapLut('jet');
  const out = blendHeatmap(image, new Float32Array(4).fill(1), 2, 2, { width: 20, height: 20, fit: 'cover' }, lut, 0.5);
  for (let y = 0; y < 20; y++) {
    for (let x = 0; x < 41; x++) {
      for (let c = 0; c < 3; c++) {
        const i = (y * 41 + x) * 3 + c;
        const seen = x >= 11 && x < 31;
        const want = seen ? blendedByte(image.data[i]!, lut[255 * 3 + c]!, 0.5) : image.data[i]!;
        if (out[i] !== want) assert.fail(`x=${x} y=${y} channel ${c}: ${out[i]} instead of ${want} (${seen ? 'seen' : 'cropped'})`);
      }
    }
  }
});

test('leaves the input untouched', () => {
  const image = noiseImage(16, 8, 0);
  const before = Buffer.from(image.data);
  blendHeatmap(image, new Float32Array(4).fill(0.5), 2, 2, { width: 8, height: 8, fit: 'fill' }, sharedColormapLut('turbo'), 0.45);
  assert.ok(image.data.equals(before));
});
