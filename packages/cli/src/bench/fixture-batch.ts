import { readdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';

export const fixtureImagesDir = fileURLToPath(new URL('../../../../test/fixtures/images/', import.meta.url));

/** Ordinary photos only: the fixture folder also holds decompression-bomb and other edge cases. */
const photo = /\.jpe?g$/i;

/** File names of the fixture photos, sorted; throws when there are none. */
export async function fixturePhotos(): Promise<string[]> {
  const files = (await readdir(fixtureImagesDir)).filter((f) => photo.test(f)).sort();
  if (files.length === 0) throw new Error(`no .jpg fixtures in ${fixtureImagesDir}`);
  return files;
}

/**
 * A batch of real fixture photos as model inputs, cycling through them to fill `batch`. Same
 * preprocessing as the built-in models (stretched to the input size, pixels / 255), so the
 * benchmark sees the activations of real images rather than zeros or noise.
 */
export async function fixtureBatch(batch: number, height: number, width: number): Promise<Float32Array[]> {
  const files = await fixturePhotos();
  const decoded = await Promise.all(
    files.slice(0, batch).map(async (file) => {
      const data = await sharp(fixtureImagesDir + file).removeAlpha().resize(width, height, { fit: 'fill' }).raw().toBuffer();
      return Float32Array.from(data, (v) => v / 255);
    }),
  );
  return Array.from({ length: batch }, (_, i) => decoded[i % decoded.length] as Float32Array);
}
