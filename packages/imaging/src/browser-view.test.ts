import { test } from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import { decodeImage } from './decode-image.ts';
import { encodePreview } from './rgb-jpeg.ts';
import { readFixture } from './testing/test-images.ts';

const photo = () => sharp(readFixture('sheep-pastoral.jpg')).resize(64, 48).toBuffer();

test('decodeImage says where a browser would show the stored file otherwise than the decoded pixels', async () => {
  const jpeg = await photo();
  const translucent = await sharp(jpeg).ensureAlpha(0.5).png().toBuffer();
  const cases: [string, Buffer, string | undefined][] = [
    ['a JPEG', jpeg, undefined],
    ['an opaque PNG', await sharp(jpeg).png().toBuffer(), undefined],
    ['an opaque GIF', await sharp(jpeg).gif().toBuffer(), undefined],
    ['a still WebP', await sharp(jpeg).webp().toBuffer(), undefined],
    ['an AVIF', await sharp(jpeg).avif().toBuffer(), undefined],
    ['a TIFF', await sharp(jpeg).tiff().toBuffer(), 'format'],
    ['a two-frame WebP', await sharp([jpeg, await sharp(jpeg).negate().toBuffer()], { join: { animated: true } }).webp().toBuffer(), 'animation'],
    ['a two-frame GIF', await sharp([jpeg, await sharp(jpeg).negate().toBuffer()], { join: { animated: true } }).gif().toBuffer(), 'animation'],
    ['a PNG with alpha', translucent, 'transparency'],
    ['a GIF with a transparent colour', await sharp(translucent).gif().toBuffer(), 'transparency'],
    ['a WebP with alpha', await sharp(translucent).webp().toBuffer(), 'transparency'],
    ['a CMYK JPEG', await sharp(jpeg).toColourspace('cmyk').jpeg().toBuffer(), 'cmyk'],
  ];
  for (const [name, bytes, expected] of cases) {
    assert.equal((await decodeImage(bytes)).browserMismatch, expected, name);
  }
});

test('encodePreview is a JPEG of the decoded pixels at their size: transparency on white, as the model saw it', async () => {
  // Left half transparent, right half opaque black.
  const width = 40;
  const height = 20;
  const rgba = Buffer.alloc(width * height * 4);
  for (let y = 0; y < height; y++) for (let x = width / 2; x < width; x++) rgba[(y * width + x) * 4 + 3] = 255;
  const image = await decodeImage(await sharp(rgba, { raw: { width, height, channels: 4 } }).png().toBuffer());
  const preview = await encodePreview(image, 90);
  const { data, info } = await sharp(preview).raw().toBuffer({ resolveWithObject: true });
  assert.equal((await sharp(preview).metadata()).format, 'jpeg');
  assert.deepEqual([info.width, info.height, info.channels], [width, height, 3]);
  const at = (x: number, y: number) => data[(y * width + x) * 3] as number;
  assert.ok(at(5, 10) > 245, `the transparent half is white, got ${at(5, 10)}`);
  assert.ok(at(35, 10) < 10, `the opaque half stays black, got ${at(35, 10)}`);
});
