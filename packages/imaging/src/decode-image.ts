import sharp from 'sharp';
import type { Metadata, SharpOptions } from 'sharp';
import { defaultImageLimits } from './image-limits.ts';
import type { ImageLimits } from './image-limits.ts';
import { ImagingError } from './imaging-error.ts';

/** Container formats the pipeline accepts; everything else sharp can read (SVG, PDF, …) is refused. */
export type ImageFormat = 'jpeg' | 'png' | 'webp' | 'gif' | 'tiff' | 'avif' | 'heif';

/**
 * An image as the rest of the pipeline sees it: 8-bit sRGB, 3 channels, row-major HWC, upright.
 * Decoding once into this form lets preprocessing and overlay rendering share one decode.
 *
 * - EXIF orientation is applied, so `width`/`height` are the displayed ones (a portrait phone
 *   photo stored landscape comes out portrait).
 * - Transparency is flattened onto white: transparent PNG/WebP/GIF are almost always logos,
 *   stickers and drawings authored to be seen on a light page, which is how a person (and most
 *   web-scraped training data) saw them. Flattening on black would turn black line art invisible.
 * - Greyscale and CMYK are converted to sRGB; 16-bit input is reduced to 8 bits.
 * - Multi-frame GIF/WebP/TIFF: only the first frame/page.
 */
export interface DecodedImage {
  data: Buffer;
  width: number;
  height: number;
  format: ImageFormat;
}

/** Guards the entry points that take a DecodedImage built elsewhere (e.g. rebuilt from storage). */
export function assertDecodedImage(image: DecodedImage): void {
  const { width, height } = image;
  const expected = width * height * 3;
  const sized = Number.isInteger(width) && Number.isInteger(height) && width > 0 && height > 0;
  if (!sized || image.data.length !== expected) {
    throw new RangeError(
      `DecodedImage is inconsistent: ${width}×${height}×3 needs ${expected} bytes, data has ${image.data.length}`,
    );
  }
}

const WHITE = { r: 255, g: 255, b: 255 } as const;

const FORMAT_NAMES: Readonly<Record<ImageFormat, string>> = {
  jpeg: 'JPEG',
  png: 'PNG',
  webp: 'WebP',
  gif: 'GIF',
  tiff: 'TIFF',
  avif: 'AVIF',
  heif: 'HEIF',
};

const ACCEPTED = 'JPEG, PNG, WebP, GIF, TIFF, AVIF or HEIF';

/**
 * What the header says about an image that passed every check made before decoding: accepted
 * format, within the byte and pixel limits. `pixels` is what decoding will make (the first page
 * of a multi-page file), so callers can budget memory before decoding.
 */
export interface ImageHeader {
  readonly format: ImageFormat;
  /** As stored, before EXIF orientation. */
  readonly width: number;
  readonly height: number;
  readonly pixels: number;
  /** sharp's reading of the header, for decodeImage. */
  readonly metadata: Metadata;
}

/**
 * Reads and checks an image's header without decoding a pixel: empty, oversize, unsupported,
 * damaged or decompression-bomb input is refused here. Throws only `ImagingError`.
 */
export async function readImageHeader(bytes: Uint8Array, limits: ImageLimits = defaultImageLimits): Promise<ImageHeader> {
  if (bytes.byteLength === 0) {
    throw new ImagingError('IMAGE_EMPTY', 'image is empty (0 bytes); send the image file contents');
  }
  if (bytes.byteLength > limits.maxInputBytes) {
    throw new ImagingError(
      'IMAGE_TOO_LARGE',
      `image is ${bytes.byteLength} bytes, over the ${limits.maxInputBytes}-byte limit; send a smaller or more compressed file`,
    );
  }
  const metadata = await readHeader(bytes);
  const format = acceptedFormat(metadata);
  // 8 and 16 bits per sample scale to 0…255 by their range; a float or 32-bit sample has no
  // agreed range (0…1? 0…255?), and cast to 8 bits it came out all black, explained as if real.
  if (metadata.depth !== undefined && metadata.depth !== 'uchar' && metadata.depth !== 'ushort') {
    throw new ImagingError(
      'IMAGE_UNSUPPORTED_FORMAT',
      `${FORMAT_NAMES[format]} image has ${metadata.depth} samples; only 8- and 16-bit integer images are accepted, convert it to 8-bit sRGB`,
    );
  }
  // For multi-page input only the first page is decoded, so only its pixels count.
  const pixels = metadata.width * (metadata.pageHeight ?? metadata.height);
  if (!(pixels > 0)) {
    throw new ImagingError('IMAGE_CORRUPT', `${FORMAT_NAMES[format]} header declares no pixels; the file is damaged`);
  }
  if (pixels > limits.maxPixels) {
    throw new ImagingError(
      'IMAGE_TOO_MANY_PIXELS',
      `image is ${metadata.width}×${metadata.height} (${pixels} pixels), over the ${limits.maxPixels}-pixel limit; downscale it before sending`,
    );
  }
  return { format, width: metadata.width, height: metadata.height, pixels, metadata };
}

/**
 * Decodes untrusted image bytes, refusing oversize input and decompression bombs before any
 * pixel is decoded. Pass the `header` readImageHeader returned for these bytes to skip reading it
 * again. Throws only `ImagingError`.
 */
export async function decodeImage(bytes: Uint8Array, limits: ImageLimits = defaultImageLimits, header?: ImageHeader): Promise<DecodedImage> {
  const { format, metadata } = header ?? (await readImageHeader(bytes, limits));
  const options: SharpOptions = {
    // 'error' rejects truncated and damaged pixel data (sharp's 'none' would hand back a
    // half-grey image and we would explain garbage) but tolerates libjpeg *warnings* such as
    // stray bytes between markers, which many real cameras and editors produce.
    failOn: 'error',
    // Belt and braces: the header check above already ran, but some decoders only learn the
    // true size while decoding.
    limitInputPixels: limits.maxPixels,
    autoOrient: true,
  };
  try {
    // flatten is a no-op without alpha; applied unconditionally because the header's hasAlpha
    // is not reliable for every palette/transparency variant.
    const { data, info } = await sharp(bytes, options)
      .flatten({ background: WHITE })
      .toColourspace('srgb')
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) {
      throw new ImagingError(
        'IMAGE_UNSUPPORTED_FORMAT',
        `${FORMAT_NAMES[format]} image decoded to ${info.channels} channels instead of RGB; convert it to 8-bit sRGB`,
      );
    }
    return { data, width: info.width, height: info.height, format };
  } catch (error) {
    throw wrapDecodeError(error, format, metadata);
  }
}

async function readHeader(bytes: Uint8Array): Promise<Metadata> {
  try {
    // limitInputPixels off here so an oversize image reaches our own check, which names the
    // actual dimensions; metadata() reads the header only, never the pixels.
    return await sharp(bytes, { limitInputPixels: false }).metadata();
  } catch (error) {
    if (messageOf(error).includes('unsupported image format')) {
      throw new ImagingError(
        'IMAGE_UNSUPPORTED_FORMAT',
        `data is not a recognised image; send ${ACCEPTED}`,
        { cause: error },
      );
    }
    throw new ImagingError('IMAGE_CORRUPT', 'image header is damaged and cannot be read', { cause: error });
  }
}

function acceptedFormat(metadata: Metadata): ImageFormat {
  switch (metadata.format) {
    case 'jpeg':
    case 'png':
    case 'webp':
    case 'gif':
    case 'tiff':
      return metadata.format;
    case 'heif':
      // sharp reports AVIF as HEIF; the codec tells them apart.
      return metadata.compression === 'av1' ? 'avif' : 'heif';
    default:
      throw new ImagingError(
        'IMAGE_UNSUPPORTED_FORMAT',
        `${metadata.format} images are not accepted; send ${ACCEPTED}`,
      );
  }
}

function wrapDecodeError(error: unknown, format: ImageFormat, metadata: Metadata): ImagingError {
  if (error instanceof ImagingError) return error;
  const message = messageOf(error);
  if (message.includes('exceeds pixel limit')) {
    return new ImagingError('IMAGE_TOO_MANY_PIXELS', 'image has more pixels than its header declared; the file is rejected', {
      cause: error,
    });
  }
  if (format === 'heif' && metadata.compression !== 'av1') {
    // sharp's prebuilt libvips carries no HEVC decoder (patent licensing), so HEIC fails here.
    return new ImagingError(
      'IMAGE_UNSUPPORTED_FORMAT',
      `HEIF image coded with ${metadata.compression ?? 'an unknown codec'} cannot be decoded here; convert it to JPEG or AVIF`,
      { cause: error },
    );
  }
  return new ImagingError(
    'IMAGE_CORRUPT',
    `${FORMAT_NAMES[format]} image is truncated or damaged and cannot be decoded; send the complete original file`,
    { cause: error },
  );
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
