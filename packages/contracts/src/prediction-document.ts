import { z } from 'zod';
import { captureDecisionSchema } from './capture-decision.ts';
import { inferenceIdSchema } from './ids.ts';
import { explainRequestSchema, metadataSchema, modelNameSchema, modelVersionSchema, predictionSchema } from './inference-record.ts';
import { jobImageSchema } from './explain-job.ts';

export const predictionSchemaVersion = 1;

/** `prediction.json`, written by ingest before anything is enqueued. */
export const predictionDocumentSchema = z.object({
  schemaVersion: z.literal(predictionSchemaVersion),
  inferenceId: inferenceIdSchema,
  acceptedAt: z.iso.datetime(),
  model: z.object({
    name: modelNameSchema,
    version: modelVersionSchema,
    /** False when the record named no version and the served one was filled in. */
    versionGiven: z.boolean(),
  }),
  image: jobImageSchema.and(z.object({ contentType: z.string().optional() })),
  prediction: predictionSchema.optional(),
  explain: explainRequestSchema.optional(),
  metadata: metadataSchema.optional(),
  capture: captureDecisionSchema,
});
export type PredictionDocument = z.infer<typeof predictionDocumentSchema>;
