import { z } from 'zod';
import { inferenceIdSchema } from './ids.ts';
import { modelNameSchema, modelVersionSchema } from './inference-record.ts';
import { erasuresFolderName } from './reserved-key-segments.ts';

/**
 * What is left of an inference erased on request (DELETE /v1/inferences/{id}): that it was erased,
 * when, and by which erase token, with none of its content (no image, prediction, map or
 * metadata). `erasedBy` is a fingerprint of the token (the first 12 hex digits of its SHA-256),
 * never the token. `objects` counts what the request that finished the erasure deleted.
 */
export const erasureRecordSchema = z.object({
  schemaVersion: z.literal(1),
  inferenceId: inferenceIdSchema,
  model: modelNameSchema,
  modelVersion: modelVersionSchema,
  /** The erased folder (`{prefix}/{model}/{modelVersion}/dt=…/{id}/`), now empty. */
  folder: z.string(),
  objects: z.number().int().nonnegative(),
  /** ISO 8601, UTC. */
  erasedAt: z.iso.datetime(),
  erasedBy: z.string().regex(/^[0-9a-f]{12}$/),
});
export type ErasureRecord = z.infer<typeof erasureRecordSchema>;

/** `{prefix}/_erasures/dt={YYYY-MM-DD}/{inferenceId}.json`, the day being the erasure's (UTC). */
export function erasureRecordKey(prefix: string, erasedAt: Date, inferenceId: string): string {
  inferenceIdSchema.parse(inferenceId);
  const trimmed = prefix.replace(/^\/+|\/+$/g, '');
  return `${trimmed === '' ? '' : `${trimmed}/`}${erasuresFolderName}/dt=${erasedAt.toISOString().slice(0, 10)}/${inferenceId}.json`;
}
