/**
 * The acceptance targets for the Grad-CAM overhead (forward + Grad-CAM time over
 * forward-only time) on the wasm backend with the built-in MobileNetV2 models. Only compared with
 * measured figures, never used to produce one.
 */
export interface RatioTarget {
  readonly backend: string;
  readonly models: readonly string[];
  readonly batch: number;
  readonly maxRatio: number;
}

export const ratioTargets: readonly RatioTarget[] = [
  { backend: 'wasm', models: ['nsfw-mobilenet-v2', 'nsfw-mobilenet-v2-graph'], batch: 1, maxRatio: 1.1 },
  { backend: 'wasm', models: ['nsfw-mobilenet-v2', 'nsfw-mobilenet-v2-graph'], batch: 8, maxRatio: 1.05 },
];

export interface TargetVerdict {
  readonly maxRatio: number;
  readonly pass: boolean;
}

export function ratioVerdict(model: string, backend: string, batch: number, ratio: number): TargetVerdict | undefined {
  const target = ratioTargets.find((t) => t.backend === backend && t.batch === batch && t.models.includes(model));
  return target && { maxRatio: target.maxRatio, pass: ratio <= target.maxRatio };
}
