import { createHash } from 'node:crypto';
import { ApiError } from '@gradcam/http-service';
import { sniffImageFormat } from './image-format.ts';

export const maxImageBytes = 32 * 1024 * 1024;

/** The exact length `base64` decodes to ('=' padding carries no bytes), without decoding it. */
export function decodedBase64Length(base64: string): number {
  const padding = base64.endsWith('==') ? 2 : base64.endsWith('=') ? 1 : 0;
  return Math.floor((base64.length * 3) / 4) - padding;
}

/**
 * Why `base64` is not plain base64 on one line, naming the usual causes: a data URL's prefix, line
 * breaks (`base64` without -w0 wraps at 76), base64url's "-" and "_", whitespace around it. Only
 * for a string already found invalid: it reads the whole string, more than once.
 */
export function base64Problem(base64: string): string {
  const prefix = /^\s*data:([^,]{0,100}),/.exec(base64);
  if (prefix) return `image.base64 starts with a data URL prefix ("data:${prefix[1]},"): send only what follows the comma`;
  if (base64.trim() !== base64) return 'image.base64 has whitespace before or after it: send the base64 alone';
  if (/[\r\n]/.test(base64)) return 'image.base64 holds line breaks: send it on one line (base64 -w0, or strip the newlines)';
  if (/[-_]/.test(base64)) return 'image.base64 holds "-" or "_", which is base64url: send standard base64 ("+" and "/")';
  const at = base64.search(/[^A-Za-z0-9+/=]/);
  if (at !== -1) {
    const codePoint = base64.codePointAt(at) as number;
    return `image.base64 holds a character base64 does not use (U+${codePoint.toString(16).toUpperCase().padStart(4, '0')} ${JSON.stringify(String.fromCodePoint(codePoint))} at offset ${at})`;
  }
  return 'image.base64 has "=" inside it, or more than two at its end: "=" is padding, one or two at the very end only';
}

/**
 * Why base64 of the right alphabet cannot be whole: every 4 characters carry 3 bytes, so a last
 * group of 1 character carries none (Node drops it without a word: the base64 was cut short, or
 * has a character too many), and "=" only fills the last group up to 4. Either way the image is
 * not the one the client meant, and the worker would only fail it as IMAGE_CORRUPT, after the
 * record was accepted. Unpadded base64 (a last group of 2 or 3 characters, no "=") is whole.
 */
function base64LengthProblem(base64: string): string | undefined {
  const data = base64.replace(/=+$/, '');
  const padding = base64.length - data.length;
  const last = data.length % 4;
  if (last === 1) {
    return `image.base64 has ${data.length === 1 ? '1 character' : `${data.length} characters`} before any "=", one more than whole bytes take (base64 comes in groups of 4 characters for 3 bytes): it was cut short or has a character too many`;
  }
  // Nothing but padding is an empty image (IMAGE_EMPTY, below), not a malformed one.
  if (padding > 0 && data.length > 0 && padding !== 4 - last) {
    return `image.base64 ends with ${padding} "=" where its length needs ${last === 0 ? 'none' : 4 - last}: "=" only fills the last group of 4 characters`;
  }
  return undefined;
}

/**
 * Decodes an inline image and names its format; the size is checked before anything is decoded.
 * `sha256` identifies the bytes for the worker, which explains them only if it reads the same.
 */
export function decodeInlineImage(base64: string): { bytes: Buffer; sha256: string; extension: string; contentType: string } {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(base64)) throw new ApiError(422, 'IMAGE_BASE64_INVALID', base64Problem(base64));
  const lengthProblem = base64LengthProblem(base64);
  if (lengthProblem !== undefined) throw new ApiError(422, 'IMAGE_BASE64_INVALID', lengthProblem);
  if (decodedBase64Length(base64) > maxImageBytes) throw new ApiError(413, 'IMAGE_TOO_LARGE', `images are limited to ${maxImageBytes} bytes`);
  const bytes = Buffer.from(base64, 'base64');
  if (bytes.length === 0) throw new ApiError(422, 'IMAGE_EMPTY', 'image.base64 decodes to zero bytes');
  const format = sniffImageFormat(bytes);
  if (!format) throw new ApiError(422, 'IMAGE_UNSUPPORTED_FORMAT', 'the image is not JPEG, PNG, WebP, GIF, TIFF or AVIF');
  return { bytes, sha256: createHash('sha256').update(bytes).digest('hex'), ...format };
}
