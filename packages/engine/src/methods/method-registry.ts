import { EngineError } from '../errors.ts';
import type { CamMethod } from './cam-method.ts';
import { eigenCam } from './eigen-cam.ts';
import { gradCamPlusPlus } from './grad-cam-plus-plus.ts';
import { gradCam } from './grad-cam.ts';
import { hiResCam } from './hires-cam.ts';
import { layerCam } from './layer-cam.ts';
import { scoreCam } from './score-cam.ts';
import { xGradCam } from './xgrad-cam.ts';

/** The one table of methods: names here are what users type and what manifests record. */
export const camMethods = {
  gradcam: gradCam,
  'gradcam++': gradCamPlusPlus,
  xgradcam: xGradCam,
  layercam: layerCam,
  hirescam: hiResCam,
  eigencam: eigenCam,
  scorecam: scoreCam,
} as const satisfies Record<string, CamMethod>;

export type MethodName = keyof typeof camMethods;
export const methodNames = Object.keys(camMethods) as MethodName[];

export function parseMethodName(name: string): MethodName {
  // hasOwn, not `in`: 'constructor' or 'toString' are not methods.
  if (Object.hasOwn(camMethods, name)) return name as MethodName;
  throw new EngineError('METHOD_UNKNOWN', `unknown method "${name}" (known: ${methodNames.join(', ')})`);
}
