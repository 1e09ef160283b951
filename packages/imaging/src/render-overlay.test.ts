import { test } from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import { sharedColormapLut } from './colormap.ts';
import { decodeImage } from './decode-image.ts';
import type { DecodedImage } from './decode-image.ts';
import { renderOverlay } from './render-overlay.ts';
import { pixelAt, readFixture, solidImage } from './testing/test-images.ts';

const GREY = [128, 128, 128] as const;

async function decodeJpeg(jpeg: Buffer): Promise<{ data: Buffer; width: number; height: number }> {
  const { data, info } = await sharp(jpeg).raw().toBuffer({ resolveWithObject: true });
  assert.equal(info.format, 'raw');
  const metadata = await sharp(jpeg).metadata();
  assert.equal(metadata.format, 'jpeg');
  return { data, width: info.width, height: info.height };
}

/** A map at model-input resolution, zero except one hot rectangle [x0, x1) × [y0, y1). */
function hotRectangle(width: number, height: number, x0: number, x1: number, y0: number, y1: number): Float32Array {
  const map = new Float32Array(width * height);
  for (let y = y0; y < y1; y++) map.fill(1, y * width + x0, y * width + x1);
  return map;
}

/** What the default overlay (turbo, alpha 0.45) makes of a grey pixel under map value v. */
function overGrey(v: number): number[] {
  const lut = sharedColormapLut('turbo');
  const entry = Math.round(v * 255) * 3;
  return GREY.map((g, c) => g * 0.55 + lut[entry + c]! * 0.45);
}

/** Within JPEG noise of the expected colour. */
function near(pixel: readonly number[], expected: readonly number[], tolerance = 8): boolean {
  return pixel.every((v, c) => Math.abs(v - expected[c]!) <= tolerance);
}

/** Red/orange dominated: map ≳ 0.8 (at 1, turbo's dark red over grey ≈ 125,72,72). */
function isWarm([r, g, b]: readonly number[]): boolean {
  return r! - g! > 40 && r! - b! > 40;
}

/** Cold (map 0: turbo's dark blue over grey, ≈ 92,78,97). */
function isCold(pixel: readonly number[]): boolean {
  return near(pixel, overGrey(0));
}

function isUntouched(pixel: readonly number[], original: readonly number[]): boolean {
  return pixel.every((v, c) => Math.abs(v - original[c]!) <= 6);
}

test('returns a JPEG the size of the original image', async () => {
  const image = await decodeImage(readFixture('nagasaki-boats.jpg'));
  const map = Float32Array.from({ length: 49 }, (_, i) => i / 48);
  const jpeg = await renderOverlay(image, map, 7, 7, { width: 224, height: 224, fit: 'cover' });
  const metadata = await sharp(jpeg).metadata();
  assert.equal(metadata.format, 'jpeg');
  assert.deepEqual([metadata.width, metadata.height], [image.width, image.height]);
});

test('fill: a hot map cell is warm at the same relative place in the image, cold elsewhere', async () => {
  const image = solidImage(320, 240, GREY);
  // 7×7 map, hot cell at column 5, row 1 → image x ≈ 5.5/7·320 = 251, y ≈ 1.5/7·240 = 51.
  const map = new Float32Array(49);
  map[1 * 7 + 5] = 1;
  const out = await decodeJpeg(await renderOverlay(image, map, 7, 7, { width: 224, height: 224, fit: 'fill' }));
  assert.deepEqual([out.width, out.height], [320, 240]);
  assert.ok(isWarm(pixelAt(out, 251, 51)), `hot cell: ${pixelAt(out, 251, 51).join(',')}`);
  assert.ok(isCold(pixelAt(out, 40, 200)), `far corner: ${pixelAt(out, 40, 200).join(',')}`);
});

test('cover: the map lands on the centre crop, and cropped-away parts stay uncoloured', async () => {
  // 400×200 covered onto 224×224: resized to 448×224, 112 canvas pixels cut from each side, so
  // canvas x = 1.12·image x − 112 (image x 100…300 was seen).
  const image = solidImage(400, 200, GREY);
  const map = hotRectangle(224, 224, 0, 28, 98, 126); // → image x 100…125, y 87…112
  const out = await decodeJpeg(await renderOverlay(image, map, 224, 224, { width: 224, height: 224, fit: 'cover' }));
  assert.ok(isWarm(pixelAt(out, 112, 100)), `left edge of the crop is hot: ${pixelAt(out, 112, 100).join(',')}`);
  assert.ok(isCold(pixelAt(out, 150, 100)), `inside the crop, not hot: ${pixelAt(out, 150, 100).join(',')}`);
  // A naive stretch of the map over the whole image would put the hot spot here instead:
  assert.ok(isUntouched(pixelAt(out, 12, 100), GREY), `cropped away, left as is: ${pixelAt(out, 12, 100).join(',')}`);
  assert.ok(isUntouched(pixelAt(out, 390, 100), GREY), `cropped away on the right: ${pixelAt(out, 390, 100).join(',')}`);
});

test('contain: the letterbox part of the map is dropped and the rest lands on the image', async () => {
  // 200×400 contained in 224×224: resized to 112×224 at canvas x 56…168, so canvas
  // x = 0.56·image x + 56, y = 0.56·image y.
  const image = solidImage(200, 400, GREY);
  const map = hotRectangle(224, 224, 56, 84, 112, 140); // → image x 0…50, y 200…250
  const out = await decodeJpeg(await renderOverlay(image, map, 224, 224, { width: 224, height: 224, fit: 'contain' }));
  assert.ok(isWarm(pixelAt(out, 25, 225)), `image left edge is hot: ${pixelAt(out, 25, 225).join(',')}`);
  // Stretching the map over the image (ignoring the letterbox) would put it at x 50…75.
  assert.ok(isCold(pixelAt(out, 65, 225)), `x=65 is not hot: ${pixelAt(out, 65, 225).join(',')}`);
  assert.ok(isCold(pixelAt(out, 25, 100)), `y=100 is not hot: ${pixelAt(out, 25, 100).join(',')}`);
});

test('alpha 0 leaves the image as is; alpha 1 shows the pure colormap', async () => {
  const image = solidImage(64, 64, [200, 60, 20]);
  const map = new Float32Array(4).fill(0.5);
  const spec = { width: 224, height: 224, fit: 'fill' } as const;
  const clear = await decodeJpeg(await renderOverlay(image, map, 2, 2, spec, { alpha: 0, quality: 100 }));
  assert.ok(isUntouched(pixelAt(clear, 32, 32), [200, 60, 20]));
  const opaque = await decodeJpeg(await renderOverlay(image, map, 2, 2, spec, { alpha: 1, quality: 100, colormap: 'jet' }));
  const lut = sharedColormapLut('jet');
  assert.ok(isUntouched(pixelAt(opaque, 32, 32), [lut[128 * 3]!, lut[128 * 3 + 1]!, lut[128 * 3 + 2]!]));
});

test('NaN and out-of-range map values are clamped instead of poisoning the output', async () => {
  const image = solidImage(32, 32, GREY);
  const out = await decodeJpeg(await renderOverlay(image, Float32Array.of(Number.NaN, -3, 7, 0.5), 2, 2, { width: 8, height: 8, fit: 'fill' }));
  assert.ok(isCold(pixelAt(out, 0, 0)), 'NaN → 0');
  assert.ok(isWarm(pixelAt(out, 0, 31)), `7 → 1: ${pixelAt(out, 0, 31).join(',')}`);
  assert.ok(near(pixelAt(out, 31, 31), overGrey(0.5)), `0.5 stays 0.5: ${pixelAt(out, 31, 31).join(',')}`);
});

test('rejects bad arguments with RangeError', async () => {
  const image: DecodedImage = solidImage(8, 8, GREY);
  const spec = { width: 8, height: 8, fit: 'fill' } as const;
  await assert.rejects(renderOverlay(image, new Float32Array(3), 2, 2, spec), RangeError);
  await assert.rejects(renderOverlay(image, new Float32Array(4), 2, 2, spec, { alpha: 1.5 }), RangeError);
  await assert.rejects(renderOverlay(image, new Float32Array(4), 2, 2, spec, { quality: 0 }), RangeError);
});

test('an image over JPEG\'s 65,500 px side is refused before blending, pointing at overlayBase', async () => {
  const wide = solidImage(65_501, 1, [10, 20, 30]);
  await assert.rejects(renderOverlay(wide, new Float32Array(49), 7, 7, { width: 224, height: 224, fit: 'fill' }), (error: unknown) => {
    assert.ok(error instanceof RangeError, String(error));
    assert.match(error.message, /65501×1 .*65500 px side limit.*overlayBase/);
    return true;
  });
});
