import sharp from 'sharp';
import type { PreprocessingSpec } from '@gradcam/contracts';
import { assertDecodedImage } from './decode-image.ts';
import type { DecodedImage } from './decode-image.ts';
import { computeFitGeometry } from './fit-geometry.ts';
import type { FitGeometry } from './fit-geometry.ts';
import { sharpFailure } from './sharp-failure.ts';

const BLACK = { r: 0, g: 0, b: 0 } as const;

/**
 * 'linear' is a triangle filter that widens when shrinking (antialiased), like Pillow's BILINEAR
 * and torchvision's Resize: the usual training-time preprocessing for CNNs. Recorded in manifests
 * (imagingInfo): another kernel moves a map by up to half of its peak.
 */
export const modelInputResizeKernel = 'linear';

/**
 * Turns a decoded image into the model's input: resized to spec.width × spec.height per
 * spec.fit, channels in spec.channelOrder, value = (pixel × scale − mean[c]) / std[c], HWC.
 *
 * Pass `out` (length width × height × 3, e.g. a subarray of a batch tensor's buffer) to have the
 * values written in place instead of into a fresh array; it is also the return value.
 */
export async function toModelInput(
  image: DecodedImage,
  spec: PreprocessingSpec,
  out?: Float32Array,
): Promise<Float32Array> {
  assertDecodedImage(image);
  const length = spec.width * spec.height * 3;
  if (out !== undefined && out.length !== length) {
    throw new RangeError(`out has length ${out.length}, expected ${length} (${spec.width}×${spec.height}×3)`);
  }
  // Placed by the photo's own size: a decode scaled down (DecodedImage.fullSize) rounds its sides,
  // which would move a cover crop or a letterbox by up to a canvas pixel.
  const { width, height } = image.fullSize ?? image;
  const pixels = await resizeOntoCanvas(image, computeFitGeometry(width, height, spec));
  const target = out ?? new Float32Array(length);
  normalise(pixels, spec, target);
  return target;
}

/**
 * Longest side the whole image is resized to before a cover crop. Past it only the part the canvas
 * keeps is resized: a 2,000,000×1 strip covering 224×224 would otherwise be resized to
 * 448,000,000×224, over sharp's 100,000,000-pixel side limit (and mostly thrown away).
 */
const maxResizedSide = 65_536;

interface Span {
  start: number;
  length: number;
}

/** Source pixels to extract, the size to resize them to, then the canvas-sized part to keep. */
interface ResizePlan {
  source: { x: Span; y: Span } | undefined;
  resizedWidth: number;
  resizedHeight: number;
  crop: { x: Span; y: Span };
}

/**
 * One axis of a cover crop done in source coordinates: the source pixels behind canvas
 * [crop, crop + canvas) of the resized axis, plus the linear kernel's reach (one source pixel
 * when enlarging, one resized pixel's worth when shrinking), resized at the same scale as the
 * whole axis would be. The kept pixels then sample the same source positions, to rounding.
 */
function planAxis(source: number, resized: number, canvas: number, crop: number): { source: Span; resized: number; crop: Span } {
  const margin = Math.ceil(source / resized) + 1;
  const start = Math.max(0, Math.floor((crop * source) / resized) - margin);
  const end = Math.min(source, Math.ceil(((crop + canvas) * source) / resized) + margin);
  const partResized = Math.max(canvas, Math.round(((end - start) * resized) / source));
  const partCrop = Math.min(partResized - canvas, Math.max(0, Math.round(crop - (start * resized) / source)));
  return { source: { start, length: end - start }, resized: partResized, crop: { start: partCrop, length: canvas } };
}

function planResize(image: DecodedImage, geometry: FitGeometry): ResizePlan {
  const { canvasWidth, canvasHeight, resizedWidth, resizedHeight, offsetX, offsetY } = geometry;
  const cropX = Math.max(0, -offsetX);
  const cropY = Math.max(0, -offsetY);
  const crop = { x: { start: cropX, length: Math.min(resizedWidth, canvasWidth) }, y: { start: cropY, length: Math.min(resizedHeight, canvasHeight) } };
  if (Math.max(resizedWidth, resizedHeight) <= maxResizedSide) return { source: undefined, resizedWidth, resizedHeight, crop };
  // Only cover enlarges past the canvas, so the canvas is filled: no letterbox to add.
  const x = planAxis(image.width, resizedWidth, canvasWidth, cropX);
  const y = planAxis(image.height, resizedHeight, canvasHeight, cropY);
  return { source: { x: x.source, y: y.source }, resizedWidth: x.resized, resizedHeight: y.resized, crop: { x: x.crop, y: y.crop } };
}

/** Resize + crop (cover) or letterbox (contain) with sharp; returns canvas RGB uint8 HWC. */
async function resizeOntoCanvas(image: DecodedImage, geometry: FitGeometry): Promise<Buffer> {
  const { canvasWidth, canvasHeight, resizedWidth, resizedHeight, offsetX, offsetY } = geometry;
  const plan = planResize(image, geometry);
  try {
    let pipeline = sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } });
    let [width, height] = [image.width, image.height];
    if (plan.source) {
      // Called before resize(), sharp extracts from the source image.
      pipeline = pipeline.extract({ left: plan.source.x.start, top: plan.source.y.start, width: plan.source.x.length, height: plan.source.y.length });
      [width, height] = [plan.source.x.length, plan.source.y.length];
    }
    if (plan.resizedWidth !== width || plan.resizedHeight !== height) {
      pipeline = pipeline.resize(plan.resizedWidth, plan.resizedHeight, { fit: 'fill', kernel: modelInputResizeKernel });
    }
    const { x, y } = plan.crop;
    if (x.start > 0 || y.start > 0 || x.length < plan.resizedWidth || y.length < plan.resizedHeight) {
      pipeline = pipeline.extract({ left: x.start, top: y.start, width: x.length, height: y.length });
    }
    const padLeft = Math.max(0, offsetX);
    const padTop = Math.max(0, offsetY);
    const padRight = Math.max(0, canvasWidth - resizedWidth - offsetX);
    const padBottom = Math.max(0, canvasHeight - resizedHeight - offsetY);
    if (padLeft + padTop + padRight + padBottom > 0) {
      pipeline = pipeline.extend({ left: padLeft, top: padTop, right: padRight, bottom: padBottom, background: BLACK });
    }
    const { data, info } = await pipeline.raw().toBuffer({ resolveWithObject: true });
    if (info.width !== canvasWidth || info.height !== canvasHeight || info.channels !== 3) {
      throw new Error(`expected ${canvasWidth}×${canvasHeight}×3, sharp produced ${info.width}×${info.height}×${info.channels}`);
    }
    return data;
  } catch (error) {
    // A DecodedImage is already valid pixels, so this is not the caller's bad input; still,
    // nothing raw from sharp leaves the package.
    throw sharpFailure(error, 'IMAGE_CORRUPT', 'resizing the image for the model failed');
  }
}

/** One lookup per value: 256 precomputed results per channel instead of a multiply-divide each. */
function normalise(pixels: Uint8Array, spec: PreprocessingSpec, out: Float32Array): void {
  const lut = new Float32Array(768);
  for (let c = 0; c < 3; c++) {
    const mean = spec.mean[c] ?? 0;
    const std = spec.std[c] ?? 1;
    for (let p = 0; p < 256; p++) lut[c * 256 + p] = (p * spec.scale - mean) / std;
  }
  // Output channel c reads source channel c (rgb) or 2 − c (bgr); mean/std follow the output order.
  const first = spec.channelOrder === 'bgr' ? 2 : 0;
  const last = 2 - first;
  const n = out.length;
  for (let i = 0; i < n; i += 3) {
    out[i] = lut[pixels[i + first]!]!;
    out[i + 1] = lut[256 + pixels[i + 1]!]!;
    out[i + 2] = lut[512 + pixels[i + last]!]!;
  }
}
