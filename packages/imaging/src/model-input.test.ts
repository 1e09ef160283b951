import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { PreprocessingSpec } from '@gradcam/contracts';
import sharp from 'sharp';
import { decodeImage } from './decode-image.ts';
import { computeFitGeometry } from './fit-geometry.ts';
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

test('a 2,000,000×1 PNG covers 224×224 with its centre, though resizing it whole would pass sharp\'s side limit', async () => {
  // Blue | a 20-pixel green centre | red. Cover scales it by 224: only the pixel or two at the
  // centre reach the canvas, so the model must see pure green.
  const width = 2_000_000;
  const strip = solidImage(width, 1, [0, 0, 255]);
  paintColumns(strip, 0, width / 2 - 10, [255, 0, 0]);
  paintColumns(strip, width / 2 - 10, width / 2 + 10, [0, 255, 0]);
  const png = await sharp(strip.data, { raw: { width, height: 1, channels: 3 } }).png().toBuffer();
  const image = await decodeImage(png);
  assert.deepEqual([image.width, image.height], [width, 1]);
  const spec: PreprocessingSpec = { ...imagenet, width: 224, height: 224, fit: 'cover' };
  assert.ok(computeFitGeometry(width, 1, spec).resizedWidth > 100_000_000, 'the whole-image resize is over sharp\'s limit');
  const values = await toModelInput(image, spec);
  const green = expected(spec, [0, 255, 0]);
  for (let i = 0; i < values.length; i++) assert.equal(values[i], green[i % 3], `value ${i}`);
});

test('past the whole-image resize limit, a cover crop gives what resizing the whole image gives, to 2 levels', async () => {
  // A real photo squeezed into strips, wide and tall, each resized whole well past 65,536 px.
  const photo = readFixture('alpine-landscape.jpg');
  for (const [width, height, spec] of [
    [20_000, 10, { width: 224, height: 224 }],
    [12, 30_000, { width: 64, height: 48 }],
  ] as const) {
    const data = await sharp(photo).removeAlpha().resize(width, height, { fit: 'fill' }).raw().toBuffer();
    const image = { data, width, height, format: 'jpeg' as const };
    const raw: PreprocessingSpec = { ...spec, fit: 'cover', channelOrder: 'rgb', scale: 1, mean: [0, 0, 0], std: [1, 1, 1] };
    const g = computeFitGeometry(width, height, raw);
    assert.ok(Math.max(g.resizedWidth, g.resizedHeight) > 65_536);
    const whole = await sharp(data, { raw: { width, height, channels: 3 } })
      .resize(g.resizedWidth, g.resizedHeight, { fit: 'fill', kernel: 'linear' })
      .extract({ left: -g.offsetX, top: -g.offsetY, width: spec.width, height: spec.height })
      .raw()
      .toBuffer();
    const values = await toModelInput(image, raw);
    let worst = 0;
    for (let i = 0; i < whole.length; i++) worst = Math.max(worst, Math.abs(values[i]! - whole[i]!));
    assert.ok(worst <= 2, `${width}×${height}: largest difference ${worst} levels`);
  }
});

test('sharp running out of memory is IMAGING_OUT_OF_MEMORY, transient, not IMAGE_CORRUPT', { skip: process.platform === 'win32' }, () => {
  // A real allocation failure, in a child limited to 64 GB of address space (room for Node and
  // its WebAssembly reservations): a 1,000,000×100,000 canvas needs a 286 GB buffer, which
  // libvips cannot get whatever the machine's memory or overcommit policy.
  const script = `
    const { toModelInput } = await import(${JSON.stringify(new URL('./model-input.ts', import.meta.url).href)});
    const image = { data: Buffer.alloc(4 * 4 * 3, 128), width: 4, height: 4, format: 'png' };
    const spec = { width: 1_000_000, height: 100_000, fit: 'fill', channelOrder: 'rgb', scale: 1, mean: [0, 0, 0], std: [1, 1, 1] };
    try { await toModelInput(image, spec); console.log(JSON.stringify({ ok: true })); }
    catch (e) { console.log(JSON.stringify({ name: e.name, code: e.code, transient: e.transient, message: e.message, cause: e.cause?.message })); }
  `;
  const child = spawnSync('sh', ['-c', 'ulimit -v 64000000 && exec "$0" --import tsx --input-type=module --eval "$1"', process.execPath, script], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  assert.equal(child.status, 0, child.stderr);
  const outcome = JSON.parse(child.stdout.trim().split('\n').at(-1) ?? '{}') as Record<string, unknown>;
  assert.equal(outcome.name, 'ImagingError', JSON.stringify(outcome));
  assert.equal(outcome.code, 'IMAGING_OUT_OF_MEMORY', JSON.stringify(outcome));
  assert.equal(outcome.transient, true);
  assert.match(String(outcome.cause), /out of memory/);
});

test('a photo decoded scaled down is placed on the canvas by its own size: a cover crop or letterbox does not move', async () => {
  // 2200×900 decodes to 2048×838: placed by that, cover would resize to 547×224, not 548×224.
  const big = await sharp(readFixture('airplane-from-above.jpg')).resize(2200, 900, { fit: 'fill' }).jpeg({ quality: 92 }).toBuffer();
  const full = await decodeImage(big);
  const scaled = await decodeImage(big, undefined, undefined, { maxSide: 2048 });
  assert.deepEqual(scaled.fullSize, { width: 2200, height: 900 });
  for (const fit of ['cover', 'contain'] as const) {
    const spec: PreprocessingSpec = { width: 224, height: 224, fit, channelOrder: 'rgb', scale: 1, mean: [0, 0, 0], std: [1, 1, 1] };
    const [a, b] = [await toModelInput(full, spec), await toModelInput(scaled, spec)];
    let worst = 0;
    for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
    // Lanczos-3 then linear against linear alone: a few levels at edges; a crop a pixel off is 60+.
    assert.ok(worst <= 16, `${fit}: largest difference ${worst} levels`);
  }
});
