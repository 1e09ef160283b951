import sharp from 'sharp';
import type { DecodedImage } from './decode-image.ts';
import { sharpFailure } from './sharp-failure.ts';

/**
 * 8-bit RGB pixels (HWC) as a JPEG: the pipeline's overlays and input previews. `what` names the
 * picture in the error of a failed encode.
 */
export async function encodeRgbJpeg(pixels: Uint8Array, width: number, height: number, quality: number, what: string): Promise<Buffer> {
  try {
    return await sharp(pixels, { raw: { width, height, channels: 3 } })
      // Huffman-table optimisation is a second pass over the coefficients that roughly doubles
      // the encode's CPU for files 2–12 % smaller (photos ~3 %); the pixels are identical either
      // way, and the encode is CPU on the worker's critical path while the bytes are cheap.
      .jpeg({ quality, optimiseCoding: false })
      .toBuffer();
  } catch (error) {
    throw sharpFailure(error, 'IMAGE_CORRUPT', `encoding ${what} as JPEG failed`);
  }
}

/**
 * A JPEG of decoded pixels (upright, flattened on white, first frame, sRGB), for a page to show
 * in place of an input the browser would show otherwise (see BrowserMismatch). Pass the overlays'
 * base (overlayBase) so that the preview and the overlays are the same size, pixel for pixel.
 */
export function encodePreview(image: DecodedImage, quality: number): Promise<Buffer> {
  return encodeRgbJpeg(image.data, image.width, image.height, quality, 'the input preview');
}
