import sharp from 'sharp';
import type { Metadata, SharpOptions } from 'sharp';
import { type BrowserMismatch, browserMismatch } from './browser-view.ts';
import type { ImageFormat } from './image-format.ts';
import { defaultImageLimits } from './image-limits.ts';
import type { ImageLimits } from './image-limits.ts';
import { ImagingError } from './imaging-error.ts';
import { isOutOfMemory, sharpFailure } from './sharp-failure.ts';


/**
 * An image as the rest of the pipeline sees it: 8-bit sRGB, 3 channels, row-major HWC, upright.
 * Decoding once into this form lets preprocessing and overlay rendering share one decode.
 *
 * - EXIF orientation is applied, so `width`/`height` are the displayed ones (a portrait phone
 *   photo stored landscape comes out portrait). Not in WebP: browsers apply orientation metadata
 *   only where it precedes the pixels (css-images-3), and WebP's EXIF chunk follows them, so
 *   Chromium and Firefox (and the review page) show a WebP as stored; so does the pipeline.
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
  /** The image's own size, upright, when it was decoded scaled down (see DecodeOptions.maxSide). */
  fullSize?: { width: number; height: number };
  /** The DecodeOptions.maxSide it was scaled down to fit, set together with fullSize. */
  maxSide?: number;
  /** Set where a browser would show the stored file otherwise than these pixels (see BrowserMismatch). */
  browserMismatch?: BrowserMismatch;
}

export interface DecodeOptions {
  /**
   * Longest side to decode to; 0 or absent: full size. A larger image comes out scaled down to fit
   * (aspect kept, each side rounded, Lanczos-3 like overlayBase) with `fullSize` set. JPEG and WebP
   * then decode at a reduced scale in the codec itself ("shrink-on-load"): a 12-megapixel JPEG
   * decoded to 2048 px costs about a third of the CPU of a full decode, and the separate downscale
   * of its overlay goes away.
   * See decodeSideFor for the side a caller should ask for.
   */
  maxSide?: number;
}

/**
 * The side to decode to (DecodeOptions.maxSide) for overlays of at most `overlayMaxSide` pixels
 * (0: full size) and a model input of `modelInput`: the overlay's side, but never below four times
 * the model input's longest side, so that the model input is still resized down from ample pixels.
 */
export function decodeSideFor(overlayMaxSide: number, modelInput: { readonly width: number; readonly height: number }): number {
  if (overlayMaxSide === 0) return 0;
  return Math.max(overlayMaxSide, 4 * Math.max(modelInput.width, modelInput.height));
}

/** Guards the entry points that take a DecodedImage built elsewhere (e.g. rebuilt from storage). */
export function assertDecodedImage(image: DecodedImage): void {
  const { width, height, data } = image;
  // Checked, not trusted: an untyped caller (or a message from another thread) can pass anything.
  if (!((data as unknown) instanceof Uint8Array)) {
    throw new RangeError(`DecodedImage is inconsistent: data must be a Buffer or Uint8Array, got ${data === null ? 'null' : typeof data}`);
  }
  const expected = width * height * 3;
  const sized = Number.isInteger(width) && Number.isInteger(height) && width > 0 && height > 0;
  if (!sized || data.length !== expected) {
    throw new RangeError(`DecodedImage is inconsistent: ${width}×${height}×3 needs ${expected} bytes, data has ${data.length}`);
  }
}

const WHITE = { r: 255, g: 255, b: 255 } as const;

/** sharp's kernel for a decode scaled down to DecodeOptions.maxSide, after the codec's own shrink-on-load. */
export const scaledDecodeKernel = 'lanczos3';

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
      `image is ${metadata.width}×${metadata.height} (${pixels} pixels), over the ${limits.maxPixels}-pixel limit; downscale it first`,
    );
  }
  return { format, width: metadata.width, height: metadata.height, pixels, metadata };
}

/** `size` scaled down to fit `maxSide` (0: no limit), aspect kept, each side rounded and at least 1. */
function fitWithin(size: { width: number; height: number }, maxSide: number): { width: number; height: number } {
  const longest = Math.max(size.width, size.height);
  if (maxSide === 0 || longest <= maxSide) return size;
  const side = (length: number) => Math.max(1, Math.round((length * maxSide) / longest));
  return { width: side(size.width), height: side(size.height) };
}

/** The pixels decodeImage makes of an image with this header when asked for at most `maxSide` (0: full size). */
export function decodedPixels(header: ImageHeader, maxSide = 0): number {
  const { width, height } = fitWithin({ width: header.width, height: header.metadata.pageHeight ?? header.height }, maxSide);
  return width * height;
}

/**
 * Decodes untrusted image bytes, refusing oversize input and decompression bombs before any
 * pixel is decoded. Pass the `header` readImageHeader returned for these bytes to skip reading it
 * again. Throws only `ImagingError`.
 */
export async function decodeImage(
  bytes: Uint8Array,
  limits: ImageLimits = defaultImageLimits,
  header?: ImageHeader,
  { maxSide = 0 }: DecodeOptions = {},
): Promise<DecodedImage> {
  if (!(Number.isInteger(maxSide) && maxSide >= 0)) throw new RangeError(`maxSide must be a whole number ≥ 0, got ${maxSide}`);
  const { format, metadata, width, height } = header ?? (await readImageHeader(bytes, limits));
  const options: SharpOptions = {
    // 'error' rejects truncated files and damage the decoder notices (sharp's 'none' would hand
    // back a half-grey image and we would explain garbage) but tolerates libjpeg *warnings* such
    // as stray bytes between markers, which many real cameras and editors produce. Damage inside
    // JPEG scan data raises neither (JPEG has no checksum) and decodes to garbled blocks.
    failOn: 'error',
    // Belt and braces: the header check above already ran, but some decoders only learn the
    // true size while decoding.
    limitInputPixels: limits.maxPixels,
    autoOrient: orients(format),
  };
  try {
    const pageHeight = metadata.pageHeight ?? height;
    // EXIF orientations 5–8 turn the image a quarter: the displayed width is the stored height.
    const turned = orients(format) && (metadata.orientation ?? 1) >= 5;
    const fullSize = turned ? { width: pageHeight, height: width } : { width, height: pageHeight };
    const target = fitWithin(fullSize, maxSide);
    const scaled = target !== fullSize;
    let pipeline = sharp(bytes, options);
    // The exact size asked for (sharp orients before it resizes): left to fit a box, a thin strip
    // came out of libjpeg's reduced-scale decode a pixel short on its short side, up to 33% off.
    if (scaled) pipeline = pipeline.resize(target.width, target.height, { fit: 'fill', kernel: scaledDecodeKernel });
    // flatten is a no-op without alpha; applied unconditionally because the header's hasAlpha
    // is not reliable for every palette/transparency variant.
    const { data, info } = await pipeline
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
    const mismatch = browserMismatch(format, metadata);
    return { data, width: info.width, height: info.height, format, ...(scaled ? { fullSize, maxSide } : {}), ...(mismatch === undefined ? {} : { browserMismatch: mismatch }) };
  } catch (error) {
    throw wrapDecodeError(error, format, metadata);
  }
}

/** Whether an image of this format is shown with its EXIF orientation applied (see DecodedImage). */
function orients(format: ImageFormat): boolean {
  return format !== 'webp';
}

async function readHeader(bytes: Uint8Array): Promise<Metadata> {
  try {
    // limitInputPixels off here so an oversize image reaches our own check, which names the
    // actual dimensions; metadata() reads the header only, never the pixels.
    return await sharp(bytes, { limitInputPixels: false }).metadata();
  } catch (error) {
    // libvips says "unsupported" also for a file of a format it knows but cannot parse far enough
    // to sniff (a truncated TIFF): an accepted format's signature makes it damaged instead.
    const signed = formatBySignature(bytes);
    if (signed === undefined && messageOf(error).includes('unsupported image format')) {
      throw new ImagingError(
        'IMAGE_UNSUPPORTED_FORMAT',
        `data is not a recognised image; send ${ACCEPTED}`,
        { cause: error },
      );
    }
    const what = signed === undefined ? 'image' : `${FORMAT_NAMES[signed]} image`;
    throw new ImagingError('IMAGE_CORRUPT', `${what} is truncated or damaged and its header cannot be read; send the complete original file`, {
      cause: error,
    });
  }
}

const TIFF_SIGNATURES = ['II*\0', 'MM\0*', 'II+\0', 'MM\0+']; // classic and BigTIFF, both byte orders
const AVIF_BRANDS = new Set(['avif', 'avis']);
const HEIF_BRANDS = new Set(['heic', 'heix', 'heim', 'heis', 'hevc', 'hevx', 'mif1', 'msf1']);

/** The accepted format whose file signature (magic bytes) `bytes` starts with, if any. */
function formatBySignature(bytes: Uint8Array): ImageFormat | undefined {
  // latin1 maps each byte to one character, so signatures compare as strings.
  const head = Buffer.from(bytes.buffer, bytes.byteOffset, Math.min(bytes.byteLength, 64)).toString('latin1');
  if (head.startsWith('\xff\xd8\xff')) return 'jpeg';
  if (head.startsWith('\x89PNG\r\n\x1a\n')) return 'png';
  if (head.startsWith('GIF8')) return 'gif';
  if (head.startsWith('RIFF') && head.slice(8, 12) === 'WEBP') return 'webp';
  if (TIFF_SIGNATURES.some((signature) => head.startsWith(signature))) return 'tiff';
  if (head.slice(4, 8) === 'ftyp') {
    // ISO-BMFF: the major brand at 8, then after the minor version the compatible brands, to the
    // end of the ftyp box. An MP4 or QuickTime file has the same box and none of these brands.
    const boxEnd = Math.min(((head.charCodeAt(0) << 24) | (head.charCodeAt(1) << 16) | (head.charCodeAt(2) << 8) | head.charCodeAt(3)) >>> 0, head.length);
    const brands = [head.slice(8, 12)];
    for (let at = 16; at + 4 <= boxEnd; at += 4) brands.push(head.slice(at, at + 4));
    if (brands.some((brand) => AVIF_BRANDS.has(brand))) return 'avif';
    if (brands.some((brand) => HEIF_BRANDS.has(brand))) return 'heif';
  }
  return undefined;
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
  // Says nothing about the image: transient, so the job is retried, not failed as damaged.
  if (isOutOfMemory(error)) return sharpFailure(error, 'IMAGE_CORRUPT', `decoding the ${FORMAT_NAMES[format]} image failed`);
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
