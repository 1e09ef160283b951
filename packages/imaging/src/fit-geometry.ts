import type { PreprocessingSpec } from '@gradcam/contracts';

/** The part of a PreprocessingSpec that decides where source pixels land in the model input. */
export type FitSpec = Pick<PreprocessingSpec, 'width' | 'height' | 'fit'>;

/**
 * Where the source image sits on the model's input canvas: the whole image is resized to
 * `resizedWidth × resizedHeight`, then placed with its top-left corner at (`offsetX`, `offsetY`)
 * on a `canvasWidth × canvasHeight` canvas. A negative offset means that much is cropped away
 * (`cover`); a positive one is black letterbox (`contain`).
 *
 * Preprocessing and overlay rendering both derive their geometry from this one function, so a
 * Grad-CAM map (which lives in canvas coordinates) is always projected back onto exactly the
 * source pixels the model saw.
 */
export interface FitGeometry {
  canvasWidth: number;
  canvasHeight: number;
  resizedWidth: number;
  resizedHeight: number;
  offsetX: number;
  offsetY: number;
}

export function computeFitGeometry(sourceWidth: number, sourceHeight: number, spec: FitSpec): FitGeometry {
  if (!(sourceWidth > 0 && sourceHeight > 0)) {
    throw new RangeError(`source size must be positive, got ${sourceWidth}×${sourceHeight}`);
  }
  const { width: canvasWidth, height: canvasHeight } = spec;
  if (spec.fit === 'fill') {
    return { canvasWidth, canvasHeight, resizedWidth: canvasWidth, resizedHeight: canvasHeight, offsetX: 0, offsetY: 0 };
  }
  // The axis with the limiting ratio matches the canvas exactly; the other is rounded the way
  // sharp rounds it, so this geometry reproduces sharp's own cover/contain placement.
  const widthRatio = canvasWidth / sourceWidth;
  const heightRatio = canvasHeight / sourceHeight;
  const widthLimits = spec.fit === 'cover' ? widthRatio >= heightRatio : widthRatio <= heightRatio;
  let resizedWidth: number;
  let resizedHeight: number;
  if (widthLimits) {
    resizedWidth = canvasWidth;
    resizedHeight = Math.max(1, Math.round((sourceHeight * canvasWidth) / sourceWidth));
  } else {
    resizedHeight = canvasHeight;
    resizedWidth = Math.max(1, Math.round((sourceWidth * canvasHeight) / sourceHeight));
  }
  if (spec.fit === 'cover') {
    // Rounding must never leave a gap on the canvas.
    resizedWidth = Math.max(resizedWidth, canvasWidth);
    resizedHeight = Math.max(resizedHeight, canvasHeight);
  } else {
    resizedWidth = Math.min(resizedWidth, canvasWidth);
    resizedHeight = Math.min(resizedHeight, canvasHeight);
  }
  return {
    canvasWidth,
    canvasHeight,
    resizedWidth,
    resizedHeight,
    // Centred, rounding odd leftovers the way sharp's own cover/contain does.
    offsetX: centredOffset(canvasWidth, resizedWidth),
    offsetY: centredOffset(canvasHeight, resizedHeight),
  };
}

function centredOffset(canvas: number, resized: number): number {
  const slack = canvas - resized;
  // Letterbox puts the odd pixel right/bottom; crop takes it from left/top (sharp computes the
  // crop as (in − out + 1) / 2). Verified against sharp in fit-geometry.test.ts.
  return slack >= 0 ? Math.floor(slack / 2) : -Math.ceil(-slack / 2);
}
