import type { CapturePolicy } from '@gradcam/config';
import {
  type CaptureDecision,
  type ExplainJob,
  type InferenceRecord,
  type PredictionDocument,
  inferenceFolder,
  keyIn,
  parseS3Uri,
  predictionFileName,
  predictionSchemaVersion,
} from '@gradcam/contracts';
import { ApiError } from '@gradcam/http-service';
import { decideCapture } from './capture-sampling.ts';
import { sniffImageFormat } from './image-format.ts';
import type { IndexEntry, InferenceIndex } from './inference-index.ts';

export const maxImageBytes = 32 * 1024 * 1024;

/** The storage operations ingest needs (a BlobStore has them). */
export interface IngestStore {
  readonly parallelism: number;
  put(key: string, body: Uint8Array, options: { contentType: string }): Promise<unknown>;
  head(key: string): Promise<{ bytes: number } | undefined>;
}

export interface AcceptDeps {
  readonly store: IngestStore;
  readonly index: InferenceIndex;
  readonly enqueue: (jobs: readonly ExplainJob[]) => Promise<void>;
  /** The version workers serve under a model name, or undefined when no worker serves it. */
  readonly servedVersion: (model: string) => Promise<string | undefined>;
  readonly policy: CapturePolicy;
  readonly storagePrefix: string;
  /** `s3://{bucket}/…` references must name this bucket: ingest reads nothing outside its own store. */
  readonly bucket: string;
  readonly now?: () => number;
}

export type RecordOutcome =
  | {
      readonly id: string;
      readonly status: 'queued' | 'skipped';
      readonly duplicate: boolean;
      readonly reason: CaptureDecision['reason'];
      /** Set on newly accepted records only (a duplicate was counted the first time). */
      readonly model?: string;
    }
  | { readonly id: string; readonly error: ApiError };

interface Prepared {
  readonly at: number;
  readonly record: InferenceRecord;
  readonly folder: string;
  readonly version: string;
  readonly writes: { key: string; body: Uint8Array; contentType: string }[];
  /** Set for inline images at once; for references after the HEAD check. */
  image?: PredictionDocument['image'];
}

function inlineImage(base64: string): { bytes: Buffer; extension: string; contentType: string } {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(base64)) throw new ApiError(422, 'IMAGE_BASE64_INVALID', 'image.base64 is not valid base64');
  if ((base64.length * 3) / 4 > maxImageBytes) throw new ApiError(413, 'IMAGE_TOO_LARGE', `inline images are limited to ${maxImageBytes} bytes`);
  const bytes = Buffer.from(base64, 'base64');
  if (bytes.length === 0) throw new ApiError(422, 'IMAGE_EMPTY', 'image.base64 decodes to zero bytes');
  const format = sniffImageFormat(bytes);
  if (!format) throw new ApiError(422, 'IMAGE_UNSUPPORTED_FORMAT', 'the image is not JPEG, PNG, WebP, GIF, TIFF or AVIF');
  return { bytes, ...format };
}

/** Runs `fn` over items with at most `limit` in flight (S3 clients have finite sockets). */
async function forEachConcurrent<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < items.length) await fn(items[next++] as T);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
}

/**
 * Accepts validated records: resolves the model version, decides capture, writes
 * prediction.json (and an inline image) BEFORE enqueueing, then records the idempotency entry.
 * A record already accepted is answered from its entry and nothing is written again. Failures are
 * per record: one bad record never sinks its neighbours in a batch.
 */
export async function acceptRecords(deps: AcceptDeps, records: readonly InferenceRecord[]): Promise<RecordOutcome[]> {
  const now = deps.now?.() ?? Date.now();
  const outcomes: (RecordOutcome | undefined)[] = new Array(records.length);
  const existing = await deps.index.getMany(records.map((r) => r.id));
  const firstAt = new Map<string, number>();
  const versions = new Map<string, Promise<string | undefined>>();
  const prepared: Prepared[] = [];

  for (const [at, record] of records.entries()) {
    const known = existing[at];
    if (known) {
      outcomes[at] = { id: record.id, status: known.explain ? 'queued' : 'skipped', duplicate: true, reason: known.reason };
      continue;
    }
    if (firstAt.has(record.id)) continue; // the same id twice in one batch: answered like its first
    firstAt.set(record.id, at);
    try {
      if (!versions.has(record.model.name)) versions.set(record.model.name, deps.servedVersion(record.model.name));
      const served = await versions.get(record.model.name);
      if (served === undefined) throw new ApiError(422, 'MODEL_NOT_SERVED', `no worker serves model "${record.model.name}"`);
      const version = record.model.version ?? served;
      if (version !== served) {
        throw new ApiError(422, 'MODEL_VERSION_NOT_SERVED', `model "${record.model.name}" is served at version ${served}, not ${version}`);
      }
      const folder = inferenceFolder({ prefix: deps.storagePrefix, model: record.model.name, modelVersion: version, acceptedAt: new Date(now), inferenceId: record.id });
      const item: Prepared = { at, record, folder, version, writes: [] };
      if ('base64' in record.image) {
        const inline = inlineImage(record.image.base64);
        const key = keyIn(folder, `input.${inline.extension}`);
        item.writes.push({ key, body: inline.bytes, contentType: inline.contentType });
        item.image = { key, contentType: inline.contentType, bytes: inline.bytes.length };
      } else if (parseS3Uri(record.image.uri).bucket !== deps.bucket) {
        throw new ApiError(422, 'IMAGE_URI_OUTSIDE_BUCKET', `image.uri must be inside s3://${deps.bucket}/, got ${record.image.uri}`);
      }
      prepared.push(item);
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      outcomes[at] = { id: record.id, error };
    }
  }

  // Storage before the queue: a job must never point at a prediction that is not there.
  const stored: { item: Prepared; capture: CaptureDecision }[] = [];
  await forEachConcurrent(prepared, deps.store.parallelism, async (item) => {
    const { record } = item;
    try {
      if (!item.image && 'uri' in record.image) {
        const head = await deps.store.head(parseS3Uri(record.image.uri).key);
        if (!head) throw new ApiError(422, 'IMAGE_NOT_FOUND', `no object at ${record.image.uri}`);
        if (head.bytes > maxImageBytes) throw new ApiError(413, 'IMAGE_TOO_LARGE', `${record.image.uri} is ${head.bytes} bytes; the limit is ${maxImageBytes}`);
        item.image = { uri: record.image.uri, bytes: head.bytes };
      }
      const capture = decideCapture(deps.policy, record.id, record.prediction);
      const document: PredictionDocument = {
        schemaVersion: predictionSchemaVersion,
        inferenceId: record.id,
        acceptedAt: new Date(now).toISOString(),
        model: { name: record.model.name, version: item.version, versionGiven: record.model.version !== undefined },
        image: item.image as PredictionDocument['image'],
        ...(record.prediction && { prediction: record.prediction }),
        ...(record.explain && { explain: record.explain }),
        ...(record.metadata && { metadata: record.metadata }),
        capture,
      };
      item.writes.push({ key: keyIn(item.folder, predictionFileName), body: Buffer.from(`${JSON.stringify(document, null, 2)}\n`), contentType: 'application/json' });
      for (const write of item.writes) await deps.store.put(write.key, write.body, { contentType: write.contentType });
      stored.push({ item, capture });
    } catch (error) {
      outcomes[item.at] = { id: record.id, error: error instanceof ApiError ? error : storageUnavailable(error) };
    }
  });

  const jobs: ExplainJob[] = [];
  for (const { item, capture } of stored) {
    if (!capture.explain) continue;
    const image = item.image as PredictionDocument['image'];
    jobs.push({
      inferenceId: item.record.id,
      model: { name: item.record.model.name, version: item.version },
      folder: item.folder,
      image: 'key' in image ? { key: image.key } : { uri: image.uri },
      explain: item.record.explain ?? {},
      acceptedAt: now,
      capture,
    });
  }
  await deps.enqueue(jobs);
  const entries = stored.map(({ item, capture }) => ({
    id: item.record.id,
    entry: { folder: item.folder, model: item.record.model.name, explain: capture.explain, reason: capture.reason, acceptedAt: now } satisfies IndexEntry,
  }));
  await deps.index.record(entries);
  for (const { item, capture } of stored) {
    outcomes[item.at] = { id: item.record.id, status: capture.explain ? 'queued' : 'skipped', duplicate: false, reason: capture.reason, model: item.record.model.name };
  }
  // A repeat of an id within this batch has no outcome of its own: it is its first's, as a duplicate.
  return records.map((record, at) => {
    const own = outcomes[at];
    if (own) return own;
    const first = outcomes[firstAt.get(record.id) as number] as RecordOutcome;
    return 'status' in first ? { ...first, duplicate: true } : first;
  });
}

function storageUnavailable(error: unknown): ApiError {
  return new ApiError(503, 'STORAGE_UNAVAILABLE', `storage is unavailable; the record was not accepted, retry later (${error instanceof Error ? error.message : String(error)})`, undefined, 5);
}
