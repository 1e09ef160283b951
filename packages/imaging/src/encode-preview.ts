import sharp from 'sharp';
import type { DecodedImage } from './decode-image.ts';
import { sharpFailure } from './sharp-failure.ts';

/**
 * A JPEG of decoded pixels (upright, flattened on white, first frame, sRGB), for a page to show
 * in place of an input the browser would show otherwise (see BrowserMismatch). Pass the overlays'
 * base (overlayBase) so that the preview and the overlays are the same size, pixel for pixel.
 */
export async function encodePreview(image: DecodedImage, quality: number): Promise<Buffer> {
  try {
    return await sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } }).jpeg({ quality, optimiseCoding: false }).toBuffer();
  } catch (error) {
    throw sharpFailure(error, 'IMAGE_CORRUPT', 'encoding the input preview as JPEG failed');
  }
}
