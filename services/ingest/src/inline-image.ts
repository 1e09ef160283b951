import { ApiError } from '@gradcam/http-service';
import { sniffImageFormat } from './image-format.ts';

export const maxImageBytes = 32 * 1024 * 1024;

/** The exact length `base64` decodes to ('=' padding carries no bytes), without decoding it. */
export function decodedBase64Length(base64: string): number {
  const padding = base64.endsWith('==') ? 2 : base64.endsWith('=') ? 1 : 0;
  return Math.floor((base64.length * 3) / 4) - padding;
}

/** Decodes an inline image and names its format; the size is checked before anything is decoded. */
export function decodeInlineImage(base64: string): { bytes: Buffer; extension: string; contentType: string } {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(base64)) throw new ApiError(422, 'IMAGE_BASE64_INVALID', 'image.base64 is not valid base64');
  if (decodedBase64Length(base64) > maxImageBytes) throw new ApiError(413, 'IMAGE_TOO_LARGE', `images are limited to ${maxImageBytes} bytes`);
  const bytes = Buffer.from(base64, 'base64');
  if (bytes.length === 0) throw new ApiError(422, 'IMAGE_EMPTY', 'image.base64 decodes to zero bytes');
  const format = sniffImageFormat(bytes);
  if (!format) throw new ApiError(422, 'IMAGE_UNSUPPORTED_FORMAT', 'the image is not JPEG, PNG, WebP, GIF, TIFF or AVIF');
  return { bytes, ...format };
}
