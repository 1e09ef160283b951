import { EngineError } from './errors.ts';

/** Which classes to explain for one image. */
export type TargetSpec =
  | { readonly kind: 'predicted' }
  | { readonly kind: 'classes'; readonly classes: readonly number[] }
  | { readonly kind: 'topK'; readonly k: number };

export const predictedClass: TargetSpec = { kind: 'predicted' };

function ranked(scores: ArrayLike<number>): number[] {
  return Array.from({ length: scores.length }, (_, i) => i).sort((a, b) => (scores[b] as number) - (scores[a] as number) || a - b);
}

/** Resolves a target spec against one image's logits to concrete class indices, in order. */
export function resolveTargets(spec: TargetSpec, logits: ArrayLike<number>): number[] {
  const numClasses = logits.length;
  switch (spec.kind) {
    case 'predicted':
      return ranked(logits).slice(0, 1);
    case 'topK':
      if (!Number.isInteger(spec.k) || spec.k < 1) throw new EngineError('CLASS_OUT_OF_RANGE', `top-k must be a positive integer, got ${spec.k}`);
      return ranked(logits).slice(0, Math.min(spec.k, numClasses));
    case 'classes':
      for (const c of spec.classes) {
        if (!Number.isInteger(c) || c < 0 || c >= numClasses) {
          throw new EngineError('CLASS_OUT_OF_RANGE', `class index ${c} is out of range: the model has classes 0…${numClasses - 1}`);
        }
      }
      return [...new Set(spec.classes)];
  }
}
