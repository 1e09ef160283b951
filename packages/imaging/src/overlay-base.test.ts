import assert from 'node:assert/strict';
import { test } from 'node:test';
import sharp from 'sharp';
import { maxOverlaySide, overlayBase } from './overlay-base.ts';
import { renderOverlay } from './render-overlay.ts';
import { decodeImage } from './decode-image.ts';
import { paintColumns, pixelAt, solidImage } from './testing/test-images.ts';

test('an image within the limit, or with no limit, is drawn on as it is', async () => {
  const image = solidImage(300, 200, [10, 20, 30]);
  assert.equal(await overlayBase(image, 300), image);
  assert.equal(await overlayBase(image, 0), image);
});

test('a larger image is scaled down to the limit on its longest side, aspect kept, content in place', async () => {
  // Left fifth red, the rest grey: after scaling, the boundary sits at the same fifth.
  const image = paintColumns(solidImage(1000, 250, [128, 128, 128]), 0, 200, [220, 30, 30]);
  const base = await overlayBase(image, 400);
  assert.deepEqual([base.width, base.height, base.format], [400, 100, image.format]);
  assert.equal(base.data.length, 400 * 100 * 3);
  assert.deepEqual(pixelAt(base, 40, 50), [220, 30, 30]);
  assert.deepEqual(pixelAt(base, 200, 50), [128, 128, 128]);
});

test('an overlay drawn on the scaled copy puts the map on the same content', async () => {
  const image = solidImage(2000, 1000, [128, 128, 128]);
  const map = new Float32Array(49);
  map[3 * 7 + 6] = 1; // rightmost column, middle row: image x ≈ 6.5/7 of the width
  const jpeg = await renderOverlay(await overlayBase(image, 500), map, 7, 7, { width: 224, height: 224, fit: 'fill' });
  const out = await decodeImage(jpeg);
  assert.deepEqual([out.width, out.height], [500, 250]);
  const [r, , b] = pixelAt(out, Math.round((6.5 / 7) * 500), 125);
  assert.ok(r > b + 40, `hot cell is warm on the scaled overlay: r ${r}, b ${b}`);
});

test('a limit that is not a whole number ≥ 0 is refused', async () => {
  await assert.rejects(overlayBase(solidImage(4, 4, [0, 0, 0]), -1), RangeError);
  await assert.rejects(overlayBase(solidImage(4, 4, [0, 0, 0]), 2.5), RangeError);
});

test('an image wider than JPEG allows (65,500 px) is drawn scaled down to that, whatever the limit says, 0 included', async () => {
  // 70000×4: 280,000 pixels, well within the decode limits, but no JPEG can be 70,000 px wide.
  const png = await sharp(Buffer.alloc(70_000 * 4 * 3, 120), { raw: { width: 70_000, height: 4, channels: 3 } }).png().toBuffer();
  const image = await decodeImage(png);
  assert.deepEqual([image.width, image.height], [70_000, 4]);
  assert.equal(maxOverlaySide, 65_500);
  const map = new Float32Array(49).fill(0.5);
  for (const maxSide of [0, 65_535, 70_000]) {
    const base = await overlayBase(image, maxSide);
    assert.deepEqual([base.width, base.height], [65_500, 4], `maxSide ${maxSide}`);
    const jpeg = await renderOverlay(base, map, 7, 7, { width: 224, height: 224, fit: 'fill' });
    const metadata = await sharp(jpeg).metadata();
    assert.deepEqual([metadata.format, metadata.width, metadata.height], ['jpeg', 65_500, 4], `maxSide ${maxSide}`);
  }
  // Tall works the same way.
  const tall = await overlayBase({ ...image, width: 4, height: 70_000 }, 0);
  assert.deepEqual([tall.width, tall.height], [4, 65_500]);
});
