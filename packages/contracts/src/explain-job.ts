import { z } from 'zod';
import { captureDecisionSchema } from './capture-decision.ts';
import { inferenceIdSchema } from './ids.ts';
import { explainRequestSchema, modelNameSchema, modelVersionSchema, s3UriSchema } from './inference-record.ts';

/** The BullMQ queue that carries explain jobs; the job id is the inference id. */
export const explainQueueName = 'explain';

/** Where the worker reads the image: our own stored copy (inline uploads) or the caller's object. */
export const jobImageSchema = z.union([z.object({ key: z.string().min(1) }), z.object({ uri: s3UriSchema })]);

export const explainJobSchema = z.object({
  inferenceId: inferenceIdSchema,
  model: z.object({ name: modelNameSchema, version: modelVersionSchema }),
  /** The inference's storage folder (see `inferenceFolder`), ending in '/'. */
  folder: z.string().min(1).endsWith('/'),
  image: jobImageSchema,
  explain: explainRequestSchema,
  /** Epoch ms when ingest accepted the record: the start of the end-to-end latency. */
  acceptedAt: z.number().int().positive(),
  capture: captureDecisionSchema,
});
export type ExplainJob = z.infer<typeof explainJobSchema>;

/** What a completed job returns (kept on the BullMQ job). */
export const explainJobResultSchema = z.object({ manifestKey: z.string(), artifacts: z.number().int().nonnegative() });
export type ExplainJobResult = z.infer<typeof explainJobResultSchema>;
