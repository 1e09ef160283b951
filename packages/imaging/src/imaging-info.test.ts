import assert from 'node:assert/strict';
import type { PreprocessingSpec } from '@gradcam/contracts';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import sharp from 'sharp';
import { decodeImage } from './decode-image.ts';
import { imagingInfo } from './imaging-info.ts';
import { toModelInput } from './model-input.ts';

test('imagingInfo names this package version, the sharp and libvips in use and the kernels the model input is made with', async () => {
  const { version } = JSON.parse(await readFile(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  assert.deepEqual(imagingInfo, { version, sharp: sharp.versions.sharp, libvips: sharp.versions.vips, resizeKernel: 'linear', scaledDecodeKernel: 'lanczos3' });
  // The kernel named is the one used: a fit by hand with it gives toModelInput's values exactly.
  const photo = await decodeImage(await readFile(new URL('../../../test/fixtures/images/sheep-pastoral.jpg', import.meta.url)));
  const spec: PreprocessingSpec = { width: 224, height: 224, fit: 'fill', channelOrder: 'rgb', scale: 1, mean: [0, 0, 0], std: [1, 1, 1] };
  const byHand = await sharp(photo.data, { raw: { width: photo.width, height: photo.height, channels: 3 } })
    .resize(224, 224, { fit: 'fill', kernel: imagingInfo.resizeKernel })
    .raw()
    .toBuffer();
  assert.deepEqual(await toModelInput(photo, spec), Float32Array.from(byHand));
});
