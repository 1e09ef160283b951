import sharp from 'sharp';
import { assertDecodedImage } from './decode-image.ts';
import type { DecodedImage } from './decode-image.ts';
import { ImagingError } from './imaging-error.ts';

/**
 * The image an overlay is drawn on: `image` itself when its longest side is within `maxSide`
 * (or `maxSide` is 0, no limit), else a copy scaled down to it, aspect kept. The map is placed
 * through the preprocessing geometry relative to the image's size, so it lands on the same
 * content at either size. Scale once per image: every overlay of the image can share the copy.
 */
export async function overlayBase(image: DecodedImage, maxSide: number): Promise<DecodedImage> {
  assertDecodedImage(image);
  if (!(Number.isInteger(maxSide) && maxSide >= 0)) throw new RangeError(`maxSide must be a whole number ≥ 0, got ${maxSide}`);
  const longest = Math.max(image.width, image.height);
  if (maxSide === 0 || longest <= maxSide) return image;
  const scale = maxSide / longest;
  const width = Math.max(1, Math.round(image.width * scale));
  const height = Math.max(1, Math.round(image.height * scale));
  try {
    const data = await sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } })
      .resize(width, height, { fit: 'fill', kernel: 'lanczos3' })
      .raw()
      .toBuffer();
    return { data, width, height, format: image.format };
  } catch (error) {
    throw new ImagingError('IMAGE_CORRUPT', 'scaling the image down for its overlay failed', { cause: error });
  }
}
