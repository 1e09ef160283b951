/**
 * Real images for the tests: the committed photos/drawings under test/fixtures/images, and
 * small files encoded with sharp for the formats and edge cases (alpha, EXIF rotation, frames…).
 * Test-only; not exported from the package.
 */
import { readFileSync, readdirSync } from 'node:fs';
import sharp from 'sharp';
import type { DecodedImage } from '../decode-image.ts';

export const fixtureDir = new URL('../../../../test/fixtures/images/', import.meta.url);

export function readFixture(name: string): Buffer {
  return readFileSync(new URL(name, fixtureDir));
}

/** The committed sample photos and drawings (every .jpg in the fixture folder). */
export function samplePhotoNames(): string[] {
  return readdirSync(fixtureDir).filter((name) => name.endsWith('.jpg')).sort();
}

export type Rgb = readonly [number, number, number];

/** A DecodedImage built directly, for exact numeric tests that must not depend on a codec. */
export function solidImage(width: number, height: number, rgb: Rgb): DecodedImage {
  const data = Buffer.alloc(width * height * 3);
  for (let i = 0; i < data.length; i += 3) data.set(rgb, i);
  return { data, width, height, format: 'png' };
}

/** Fills columns [x0, x1) of every row with a colour, in place. */
export function paintColumns(image: DecodedImage, x0: number, x1: number, rgb: Rgb): DecodedImage {
  for (let y = 0; y < image.height; y++) {
    for (let x = x0; x < x1; x++) image.data.set(rgb, (y * image.width + x) * 3);
  }
  return image;
}

export function pixelAt(image: { data: Uint8Array; width: number }, x: number, y: number, channels = 3): [number, number, number] {
  const i = (y * image.width + x) * channels;
  return [image.data[i]!, image.data[i + 1]!, image.data[i + 2]!];
}

/** A 64×48 RGB image: red left half, blue right half; encoded by `encode`. */
export function twoToneRaw(width = 64, height = 48): DecodedImage {
  return paintColumns(solidImage(width, height, [0, 0, 255]), 0, width / 2, [255, 0, 0]);
}

export function rawInput(image: DecodedImage): { raw: { width: number; height: number; channels: 3 } } {
  return { raw: { width: image.width, height: image.height, channels: 3 } };
}

/** RGBA PNG: left half opaque red, right half fully transparent, bottom rows half-transparent black. */
export async function pngWithAlpha(): Promise<Buffer> {
  const width = 32;
  const height = 32;
  const data = Buffer.alloc(width * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 4;
      if (y >= 24) data.set([0, 0, 0, 128], i);
      else if (x < 16) data.set([255, 0, 0, 255], i);
      else data.set([0, 0, 0, 0], i);
    }
  }
  return sharp(data, { raw: { width, height, channels: 4 } }).png().toBuffer();
}

/** A two-frame GIF: the first frame red, the second blue. */
export async function twoFrameGif(width = 16, height = 12): Promise<Buffer> {
  const data = Buffer.alloc(width * height * 2 * 3);
  for (let i = 0; i < data.length; i += 3) data.set(i < data.length / 2 ? [255, 0, 0] : [0, 0, 255], i);
  return sharp(data, { raw: { width, height: height * 2, channels: 3, pageHeight: height } }).gif().toBuffer();
}

/**
 * A JPEG stored 60×40 with a red block in its top-left corner and EXIF orientation 6 ("rotate
 * 90° clockwise to display"): displayed it is 40×60 with the block in the top-right corner.
 */
export async function jpegWithOrientation6(): Promise<Buffer> {
  const image = solidImage(60, 40, [255, 255, 255]);
  for (let y = 0; y < 10; y++) for (let x = 0; x < 10; x++) image.data.set([255, 0, 0], (y * 60 + x) * 3);
  return sharp(image.data, rawInput(image)).jpeg({ quality: 95 }).withMetadata({ orientation: 6 }).toBuffer();
}
