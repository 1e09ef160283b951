import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { PreprocessingSpec } from '@gradcam/contracts';
import { decodeImage } from './decode-image.ts';
import { toModelInput } from './model-input.ts';
import { paintColumns, readFixture, solidImage } from './testing/test-images.ts';
import type { Rgb } from './testing/test-images.ts';

const imagenet: PreprocessingSpec = {
  width: 8,
  height: 6,
  fit: 'fill',
  channelOrder: 'rgb',
  scale: 1 / 255,
  mean: [0.485, 0.456, 0.406],
  std: [0.229, 0.224, 0.225],
};

/** What the spec's formula gives for one source pixel, channels in spec order, as float32. */
function expected(spec: PreprocessingSpec, rgb: Rgb): number[] {
  const ordered = spec.channelOrder === 'bgr' ? [rgb[2], rgb[1], rgb[0]] : [...rgb];
  return ordered.map((p, c) => Math.fround((p * spec.scale - spec.mean[c]!) / spec.std[c]!));
}

function pixel(values: Float32Array, width: number, x: number, y: number): number[] {
  const i = (y * width + x) * 3;
  return [values[i]!, values[i + 1]!, values[i + 2]!];
}

test('a solid colour gives exactly the normalised value everywhere, for every fit', async () => {
  const rgb: Rgb = [200, 100, 50];
  for (const fit of ['fill', 'cover', 'contain'] as const) {
    // Same aspect ratio as the canvas, so contain has no letterbox here.
    const spec = { ...imagenet, fit };
    const values = await toModelInput(solidImage(80, 60, rgb), spec);
    assert.equal(values.length, 8 * 6 * 3);
    const want = expected(spec, rgb);
    for (let i = 0; i < values.length; i++) assert.equal(values[i], want[i % 3], `${fit} value ${i}`);
  }
});

test('bgr swaps channels, and mean/std follow the output order', async () => {
  const rgb: Rgb = [255, 128, 0];
  const spec: PreprocessingSpec = { ...imagenet, channelOrder: 'bgr', mean: [103.939, 116.779, 123.68], std: [1, 1, 1], scale: 1 };
  const values = await toModelInput(solidImage(16, 12, rgb), spec);
  assert.deepEqual(pixel(values, 8, 3, 3), [0 - 103.939, 128 - 116.779, 255 - 123.68].map(Math.fround));
});

test('cover keeps the centre and crops the sides', async () => {
  // 300×100: red | green | blue thirds. Cover onto 100×100 needs no scaling, only the crop,
  // so every value is exact: the model must see pure green.
  const image = solidImage(300, 100, [0, 0, 255]);
  paintColumns(image, 0, 100, [255, 0, 0]);
  paintColumns(image, 100, 200, [0, 255, 0]);
  const spec: PreprocessingSpec = { ...imagenet, width: 100, height: 100, fit: 'cover' };
  const values = await toModelInput(image, spec);
  const green = expected(spec, [0, 255, 0]);
  for (let i = 0; i < values.length; i++) assert.equal(values[i], green[i % 3], `value ${i}`);
});

test('contain letterboxes with black, centred', async () => {
  // 200×100 white onto 100×100: image 100×50 at rows 25…74, black above and below.
  const spec: PreprocessingSpec = { ...imagenet, width: 100, height: 100, fit: 'contain' };
  const values = await toModelInput(solidImage(200, 100, [255, 255, 255]), spec);
  const black = expected(spec, [0, 0, 0]);
  const white = expected(spec, [255, 255, 255]);
  for (const y of [0, 24, 75, 99]) assert.deepEqual(pixel(values, 100, 50, y), black, `row ${y} is letterbox`);
  for (const y of [25, 50, 74]) assert.deepEqual(pixel(values, 100, 50, y), white, `row ${y} is image`);
});

test('fill stretches the whole image, losing the aspect ratio', async () => {
  const image = solidImage(300, 100, [0, 0, 255]);
  paintColumns(image, 0, 150, [255, 0, 0]);
  const spec: PreprocessingSpec = { ...imagenet, width: 10, height: 10, fit: 'fill', scale: 1, mean: [0, 0, 0], std: [1, 1, 1] };
  const values = await toModelInput(image, spec);
  assert.deepEqual(pixel(values, 10, 0, 5), [255, 0, 0]);
  assert.deepEqual(pixel(values, 10, 9, 5), [0, 0, 255]);
});

test('writes into a caller-provided slice of a batch buffer', async () => {
  const spec = { ...imagenet, fit: 'cover' as const };
  const per = spec.width * spec.height * 3;
  const batch = new Float32Array(per * 2).fill(Number.NaN);
  const slot = batch.subarray(per, per * 2);
  const returned = await toModelInput(solidImage(40, 30, [10, 20, 30]), spec, slot);
  assert.equal(returned, slot);
  assert.ok(Number.isNaN(batch[0]!), 'the first slot is untouched');
  assert.equal(batch[per], expected(spec, [10, 20, 30])[0]);
  await assert.rejects(toModelInput(solidImage(4, 4, [0, 0, 0]), spec, new Float32Array(3)), RangeError);
});

test('a real photo at 224×224 gives finite values within the normalised range', async () => {
  const image = await decodeImage(readFixture('sheep-pastoral.jpg'));
  const spec: PreprocessingSpec = { ...imagenet, width: 224, height: 224, fit: 'cover' };
  const values = await toModelInput(image, spec);
  assert.equal(values.length, 224 * 224 * 3);
  for (let c = 0; c < 3; c++) {
    const low = (0 - spec.mean[c]!) / spec.std[c]!;
    const high = (1 - spec.mean[c]!) / spec.std[c]!;
    for (let i = c; i < values.length; i += 3) {
      const v = values[i]!;
      assert.ok(v >= low - 1e-6 && v <= high + 1e-6, `channel ${c} value ${v} outside [${low}, ${high}]`);
    }
  }
});

test('rejects a DecodedImage whose buffer does not match its size', async () => {
  const image = { ...solidImage(4, 4, [0, 0, 0]), width: 5 };
  await assert.rejects(toModelInput(image, imagenet), RangeError);
});
