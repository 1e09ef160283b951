import type { Metadata } from 'sharp';
import type { ImageFormat } from './image-format.ts';

/**
 * Why a browser shows an image's stored file otherwise than decodeImage's pixels, which are what
 * the model saw and what the overlays are drawn over:
 * - `format`: TIFF and HEIF, which Chromium and Firefox do not show at all;
 * - `animation`: an animated GIF, WebP or PNG plays, where the first frame was explained;
 * - `transparency`: an alpha channel shows the page behind it, where the model saw white;
 * - `cmyk`: browsers convert CMYK their own way (naively where no profile is embedded), where
 *   decodeImage goes through libvips' CMYK profile.
 */
export type BrowserMismatch = 'format' | 'animation' | 'transparency' | 'cmyk';

/** Read from the header decodeImage decodes by; undefined where a browser shows what the model saw. */
export function browserMismatch(format: ImageFormat, metadata: Metadata): BrowserMismatch | undefined {
  if (format === 'tiff' || format === 'heif') return 'format';
  if ((metadata.pages ?? 1) > 1) return 'animation';
  // An alpha channel that happens to be opaque everywhere gets a preview it did not need: the
  // header cannot tell, and the preview shows the same pixels.
  if (metadata.hasAlpha) return 'transparency';
  if (metadata.space === 'cmyk') return 'cmyk';
  return undefined;
}
