import { z } from 'zod';
import { closedObject } from './closed-object.ts';
import { inferenceIdSchema } from './ids.ts';
import { camMethodSchema } from './manifest.ts';
import { dotsOnlySegment, erasuresFolderName, temporaryFileSegment } from './reserved-key-segments.ts';

/**
 * Model names and versions become storage key segments, like ids, so they follow the storage
 * key rules too: not a name the stores reserve (dots only, or a temporary file's).
 */
const keySegmentSchema = (what: string) => {
  const message = `${what} are 1–64 characters of A–Z, a–z, 0–9, ".", "_" or "-", not dots only, and not like ".x.<16 hex>.partial"`;
  return z
    .string()
    .regex(/^[A-Za-z0-9_.-]{1,64}$/, message)
    .refine((segment) => !dotsOnlySegment.test(segment) && !temporaryFileSegment.test(segment), message);
};
export const modelNameSchema = keySegmentSchema('model names').refine((name) => name !== erasuresFolderName, `"${erasuresFolderName}" is reserved (the folder of erasure records) and cannot be a model name`);
export const modelVersionSchema = keySegmentSchema('model versions');

const modelRefShape = {
  name: modelNameSchema,
  /** Optional: the version the deployment serves under this name is used and recorded. */
  version: modelVersionSchema.optional(),
};
export const modelRefSchema = z.object(modelRefShape);
export type ModelRef = z.infer<typeof modelRefSchema>;

/** S3's limit on a key, in UTF-8 bytes (the bucket, up to 63 characters, is not part of it). */
const maxS3KeyBytes = 1024;
const keyTooLong = `image.uri's key may be at most ${maxS3KeyBytes} bytes (UTF-8)`;
const maxS3UriLength = 's3://'.length + 63 + 1 + maxS3KeyBytes;
const utf8 = new TextEncoder();

/**
 * `s3://bucket/key`, as a record may give it: the shape only. Whether the key is one the store
 * takes (no "." or ".." segment, no control character, …) is the store's own rule, checked by
 * ingest with it and answered 422 IMAGE_URI_INVALID, not here as a schema failure. The key's
 * length is S3's own limit, so it is bounded here, by itself: a bound on the whole URI refused
 * keys of 1010–1024 bytes under a long bucket name.
 */
export const s3UriShapeSchema = z
  .string()
  // Cheap, before the key is encoded: "s3://", the bucket, "/" and the key (a character is at
  // least one byte). Not `abort`: an aborted option hides this issue behind the image union's own
  // sentence (which is for a value neither shape reads).
  .max(maxS3UriLength, keyTooLong)
  .regex(/^s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]\/[^\0]+$/, 'image.uri must look like s3://bucket/key')
  .refine((uri) => {
    const keyStart = uri.indexOf('/', 's3://'.length) + 1;
    // Too long or not a URI is another check's issue, said once.
    return uri.length > maxS3UriLength || keyStart === 0 || utf8.encode(uri.slice(keyStart)).length <= maxS3KeyBytes;
  }, keyTooLong);

/** `s3://bucket/key` in a job: the key may not climb out of its prefix (workers read what jobs name). */
export const s3UriSchema = s3UriShapeSchema.refine(
  (uri) => !uri.split('/').slice(3).some((part) => part === '..' || part === '.'),
  'image.uri may not contain "." or ".." segments',
);

/** Splits an `s3://` URI; throws a TypeError for anything else. */
export function parseS3Uri(uri: string): { bucket: string; key: string } {
  // `s`: a key may hold line terminators ("\n", "\r", U+2028, U+2029), which `.` alone does not
  // match; the schema lets them through, so the parser must agree (the store judges the key).
  const match = /^s3:\/\/([^/]+)\/(.+)$/s.exec(uri);
  if (!match) throw new TypeError(`not an s3:// URI: ${uri}`);
  return { bucket: match[1] as string, key: match[2] as string };
}

const inlineImageShape = { base64: z.string().min(1, 'empty: the image has no bytes') };
const imageRefShape = { uri: s3UriShapeSchema };
export const inlineImageSchema = z.object(inlineImageShape);
export const imageRefSchema = z.object(imageRefShape);
// A value neither shape reads (missing, {}, a string) says what is wanted, not zod's "Invalid input".
const imageSourceWanted = 'image must be {"base64": "…"} (the image bytes) or {"uri": "s3://bucket/key"}';
export const imageSourceSchema = z.union([inlineImageSchema, imageRefSchema], { error: imageSourceWanted });
/** As a client sends it: closed (see closedObject), so `{base64, uri}` is refused rather than its uri dropped. */
const clientImageSourceSchema = z.union([closedObject(inlineImageShape), closedObject(imageRefShape)], {
  error: (issue) => {
    const image = issue.input;
    const both = typeof image === 'object' && image !== null && 'base64' in image && 'uri' in image;
    return both ? 'image takes "base64" or "uri", not both' : imageSourceWanted;
  },
});

/**
 * `schema`, behind a look at the raw value that may refuse it whole, with one issue, before
 * `schema` parses any part of it. Zod parses every key of a record and every element of an array,
 * and makes an issue of each one that fails, before any rule about the whole runs (a `.refine`
 * counting keys runs last): a body of a million keys, or a batch of arrays of bad elements, held
 * the process for seconds and answered with millions of issues.
 */
function refusedWhole<T extends z.ZodType>(schema: T, refuse: (value: unknown) => string | undefined) {
  return z
    .unknown()
    .check((payload) => {
      const reason = refuse(payload.value);
      if (reason !== undefined) payload.issues.push({ code: 'custom', message: reason, input: payload.value });
    })
    .pipe(schema);
}

const maxScores = 10_000;

const predictionShape = {
  classIndex: z.number().int().nonnegative(),
  label: z.string().max(256).optional(),
  /** Probabilities (or scores) per class, as served. */
  scores: refusedWhole(z.array(z.number().finite()).max(maxScores), (value) => {
    if (!Array.isArray(value) || value.length > maxScores) return undefined; // the array schema says so, in one issue
    const at = value.findIndex((score) => typeof score !== 'number' || !Number.isFinite(score));
    return at === -1 ? undefined : `scores are finite numbers (scores[${at}] is not)`;
  }).optional(),
};
/** What the model server predicted, as it reports it: recorded, and used by capture sampling. */
export const predictionSchema = z.object(predictionShape);
export type Prediction = z.infer<typeof predictionSchema>;

export const maxExplainClasses = 16;

const explainRequestShape = {
  methods: z.array(camMethodSchema).min(1).max(7).optional(),
  classes: z.array(z.number().int().nonnegative()).min(1).max(maxExplainClasses).optional(),
  topK: z.number().int().min(1).max(maxExplainClasses).optional(),
};
const classesOrTopK = (e: { classes?: unknown; topK?: unknown }) => e.classes === undefined || e.topK === undefined;
const classesOrTopKMessage = 'explain takes classes or topK, not both';
/** Which explanations to compute: methods × (given classes | top-k | the predicted class). */
export const explainRequestSchema = z.object(explainRequestShape).refine(classesOrTopK, classesOrTopKMessage);
export type ExplainRequest = z.infer<typeof explainRequestSchema>;

const maxMetadataKeys = 32;

/**
 * Small caller-owned key/values stored with the prediction (never used as metric labels). The
 * keys are counted before any is parsed: an object of more is refused whole, in one issue.
 */
export const metadataSchema = refusedWhole(z.record(z.string().max(64), z.union([z.string().max(1024), z.number(), z.boolean()])), (value) =>
  typeof value === 'object' && value !== null && !Array.isArray(value) && Object.keys(value).length > maxMetadataKeys ? `metadata holds at most ${maxMetadataKeys} keys` : undefined,
);

/**
 * One inference, as posted to the ingest service. `id` is the idempotency key. Closed at every
 * level but `metadata` (an open map): a key it does not know, such as a misspelt `explian` or
 * `model.verison`, is an issue naming it, not a record accepted without it. Only ingest parses
 * client input with it; the parts that jobs and `prediction.json` carry (explainRequestSchema,
 * predictionSchema, …) stay open, so that what a newer ingest writes never fails an older worker
 * during a rolling upgrade, nor the other way round.
 */
export const inferenceRecordSchema = closedObject({
  id: inferenceIdSchema,
  model: closedObject(modelRefShape),
  image: clientImageSourceSchema,
  prediction: closedObject(predictionShape).optional(),
  explain: closedObject(explainRequestShape).refine(classesOrTopK, classesOrTopKMessage).optional(),
  metadata: metadataSchema.optional(),
});
export type InferenceRecord = z.infer<typeof inferenceRecordSchema>;

export const maxBatchRecords = 1000;
