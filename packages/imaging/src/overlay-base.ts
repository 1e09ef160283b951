import sharp from 'sharp';
import { assertDecodedImage } from './decode-image.ts';
import type { DecodedImage } from './decode-image.ts';
import { sharpFailure } from './sharp-failure.ts';

/** JPEG's (libjpeg's) largest width or height: overlays are JPEG, so no overlay is larger. */
export const maxOverlaySide = 65_500;

/**
 * The image an overlay is drawn on: `image` itself when its longest side is within `maxSide`
 * (0: no limit of the caller's) and within `maxOverlaySide`, else a copy scaled down to the
 * smaller of the two, aspect kept. The map is placed through the preprocessing geometry relative
 * to the image's size, so it lands on the same content at either size. Scale once per image:
 * every overlay of the image can share the copy.
 */
export async function overlayBase(image: DecodedImage, maxSide: number): Promise<DecodedImage> {
  assertDecodedImage(image);
  if (!(Number.isInteger(maxSide) && maxSide >= 0)) throw new RangeError(`maxSide must be a whole number ≥ 0, got ${maxSide}`);
  // The decode limits let through a 70000×4 strip (280,000 pixels), which no JPEG can hold.
  const limit = maxSide === 0 ? maxOverlaySide : Math.min(maxSide, maxOverlaySide);
  const longest = Math.max(image.width, image.height);
  if (longest <= limit) return image;
  const scale = limit / longest;
  const width = Math.max(1, Math.round(image.width * scale));
  const height = Math.max(1, Math.round(image.height * scale));
  try {
    const data = await sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } })
      .resize(width, height, { fit: 'fill', kernel: 'lanczos3' })
      .raw()
      .toBuffer();
    return { data, width, height, format: image.format };
  } catch (error) {
    throw sharpFailure(error, 'IMAGE_CORRUPT', 'scaling the image down for its overlay failed');
  }
}
