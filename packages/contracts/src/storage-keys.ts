import { inferenceIdSchema } from './ids.ts';
import { modelNameSchema, modelVersionSchema } from './inference-record.ts';
import { dotsOnlySegment } from './reserved-key-segments.ts';

export const predictionFileName = 'prediction.json';
export const reviewFileName = 'review.json';
/** Where the worker (and `gradcam explain`) writes an input's preview, listed as the manifest's input.preview. */
export const inputPreviewFileName = 'input.preview.jpg';

export interface InferenceLocation {
  /** Optional key prefix for the whole deployment (no leading or trailing slash). */
  readonly prefix: string;
  readonly model: string;
  readonly modelVersion: string;
  readonly acceptedAt: Date;
  readonly inferenceId: string;
}

/**
 * `{prefix}/{model}/{modelVersion}/dt={YYYY-MM-DD}/{inferenceId}/`: everything about one
 * inference lives under one folder. Segments are validated, so no key escapes its prefix.
 */
export function inferenceFolder(location: InferenceLocation): string {
  modelNameSchema.parse(location.model);
  modelVersionSchema.parse(location.modelVersion);
  inferenceIdSchema.parse(location.inferenceId);
  const day = location.acceptedAt.toISOString().slice(0, 10);
  const trimmed = location.prefix.replace(/^\/+|\/+$/g, '');
  // Config refuses such prefixes at boot; this keeps the promise above for any other caller.
  if (trimmed !== '' && trimmed.split('/').some((segment) => segment === '' || dotsOnlySegment.test(segment))) {
    throw new RangeError(`storage prefix ${JSON.stringify(location.prefix)} has an empty or dots-only folder`);
  }
  const prefix = trimmed === '' ? '' : `${trimmed}/`;
  return `${prefix}${location.model}/${location.modelVersion}/dt=${day}/${location.inferenceId}/`;
}

export const inputExtensions = { jpeg: 'jpg', png: 'png', webp: 'webp', gif: 'gif', tiff: 'tiff', avif: 'avif' } as const;

export function keyIn(folder: string, fileName: string): string {
  return `${folder}${fileName}`;
}
