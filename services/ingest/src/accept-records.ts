import { randomUUID } from 'node:crypto';
import type { CapturePolicy } from '@gradcam/config';
import {
  type CaptureDecision,
  type ExplainJob,
  type IndexEntry,
  type InferenceRecord,
  type PredictionDocument,
  inferenceFolder,
  keyIn,
  parseS3Uri,
  predictionFileName,
  predictionSchemaVersion,
} from '@gradcam/contracts';
import { ApiError } from '@gradcam/http-service';
import { assertValidKey } from '@gradcam/storage';
import { toReportedApiError } from './api-error.ts';
import { decideCapture } from './capture-sampling.ts';
import type { InferenceIndex } from './inference-index.ts';
import { decodeInlineImage, maxImageBytes } from './inline-image.ts';
import { resolveModelVersion } from './model-version.ts';
import type { ServedModels } from './served-models.ts';

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
  /** What workers said about the models they serve (see resolveModelVersion). */
  readonly servedModels: () => Promise<ServedModels>;
  readonly policy: CapturePolicy;
  readonly storagePrefix: string;
  /** `s3://{bucket}/…` references must name this bucket: ingest reads nothing outside its own store. */
  readonly bucket: string;
  readonly now?: () => number;
  /** Told of every failure answered 500 INTERNAL (a bug or a deployment fault), for the logs. */
  readonly onInternalError?: (error: unknown) => void;
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
  /** Epoch ms: now, or the acceptedAt of the job an earlier attempt of this id queued. */
  readonly acceptedAt: number;
  /** The capture decision of that earlier job (which is explained whatever is decided now). */
  readonly capture?: CaptureDecision;
  readonly writes: { key: string; body: Uint8Array; contentType: string }[];
  /** Set for inline images at once; for references after the HEAD check. */
  image?: PredictionDocument['image'];
  /** The store key an `s3://` reference names. */
  referencedKey?: string;
}

/** Runs `fn` over items with at most `limit` in flight (S3 clients have finite sockets). */
async function forEachConcurrent<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < items.length) await fn(items[next++] as T);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
}

const inProgress = (id: string) =>
  new ApiError(409, 'INFERENCE_IN_PROGRESS', `another request is accepting "${id}" right now; retry to learn its outcome`, undefined, 1);

/** The object key an `s3://` reference names, refused unless it is in this store's bucket and a valid key there. */
function referencedKey(deps: AcceptDeps, uri: string): string {
  let parsed: { bucket: string; key: string };
  try {
    parsed = parseS3Uri(uri);
  } catch (error) {
    throw new ApiError(422, 'IMAGE_URI_INVALID', `image.uri is not s3://bucket/key: ${error instanceof Error ? error.message : String(error)}`);
  }
  const { bucket, key } = parsed;
  if (bucket !== deps.bucket) throw new ApiError(422, 'IMAGE_URI_OUTSIDE_BUCKET', `image.uri must be inside s3://${deps.bucket}/, got ${uri}`);
  try {
    assertValidKey(key);
  } catch (error) {
    throw new ApiError(422, 'IMAGE_URI_INVALID', `image.uri names no object: ${error instanceof Error ? error.message : String(error)}`);
  }
  return key;
}

/** Resolves the model version and folder and decodes an inline image: everything checked before storage. */
async function prepare(deps: AcceptDeps, record: InferenceRecord, at: number, now: number, served: ServedModels, job: ExplainJob | undefined): Promise<Prepared> {
  // An earlier attempt's job names the folder the worker will write to: every record of the id
  // must agree with it, whatever the day or the announced version is now.
  if (job) return withImage(deps, { at, record, folder: job.folder, version: job.model.version, acceptedAt: job.acceptedAt, capture: job.capture, writes: [] });
  const version = resolveModelVersion(served, record.model);
  const folder = inferenceFolder({ prefix: deps.storagePrefix, model: record.model.name, modelVersion: version, acceptedAt: new Date(now), inferenceId: record.id });
  return withImage(deps, { at, record, folder, version, acceptedAt: now, writes: [] });
}

/** Decodes an inline image into the item's writes, or checks the key an `s3://` reference names. */
function withImage(deps: AcceptDeps, item: Prepared): Prepared {
  const { record, folder } = item;
  if ('base64' in record.image) {
    const inline = decodeInlineImage(record.image.base64);
    const key = keyIn(folder, `input.${inline.extension}`);
    item.writes.push({ key, body: inline.bytes, contentType: inline.contentType });
    item.image = { key, contentType: inline.contentType, bytes: inline.bytes.length };
  } else {
    item.referencedKey = referencedKey(deps, record.image.uri);
  }
  return item;
}

/** Checks a referenced image, then writes prediction.json (and an inline image). */
async function store(deps: AcceptDeps, item: Prepared): Promise<CaptureDecision> {
  const { record } = item;
  if (item.referencedKey !== undefined && 'uri' in record.image) {
    const head = await deps.store.head(item.referencedKey);
    if (!head) throw new ApiError(422, 'IMAGE_NOT_FOUND', `no object at ${record.image.uri}`);
    if (head.bytes > maxImageBytes) throw new ApiError(413, 'IMAGE_TOO_LARGE', `${record.image.uri} is ${head.bytes} bytes; the limit is ${maxImageBytes}`);
    item.image = { uri: record.image.uri, bytes: head.bytes };
  }
  const capture = item.capture ?? decideCapture(deps.policy, record.id, record.prediction);
  const document: PredictionDocument = {
    schemaVersion: predictionSchemaVersion,
    inferenceId: record.id,
    acceptedAt: new Date(item.acceptedAt).toISOString(),
    model: { name: record.model.name, version: item.version, versionGiven: record.model.version !== undefined },
    image: item.image as PredictionDocument['image'],
    ...(record.prediction && { prediction: record.prediction }),
    ...(record.explain && { explain: record.explain }),
    ...(record.metadata && { metadata: record.metadata }),
    capture,
  };
  item.writes.push({ key: keyIn(item.folder, predictionFileName), body: Buffer.from(`${JSON.stringify(document, null, 2)}\n`), contentType: 'application/json' });
  for (const write of item.writes) await deps.store.put(write.key, write.body, { contentType: write.contentType });
  return capture;
}

function explainJob(item: Prepared, capture: CaptureDecision): ExplainJob {
  const image = item.image as PredictionDocument['image'];
  return {
    inferenceId: item.record.id,
    model: { name: item.record.model.name, version: item.version },
    folder: item.folder,
    image: 'key' in image ? { key: image.key } : { uri: image.uri },
    explain: item.record.explain ?? {},
    acceptedAt: item.acceptedAt,
    capture,
  };
}

/**
 * Accepts validated records. Each id is claimed in Redis first, so of concurrent submissions of
 * one id exactly one is accepted (the others: 409 INFERENCE_IN_PROGRESS, or a duplicate once it is
 * accepted). The claimer resolves the model version, decides capture, writes prediction.json (and
 * an inline image) BEFORE enqueueing, then turns its claim into the idempotency entry, counting
 * the capture decision in the same step. A claim whose record is not accepted is released, so a
 * retry can go on at once. Failures are per record: one bad record never sinks its neighbours.
 */
export async function acceptRecords(deps: AcceptDeps, records: readonly InferenceRecord[]): Promise<RecordOutcome[]> {
  const now = deps.now?.() ?? Date.now();
  const holder = randomUUID();
  const outcomes: (RecordOutcome | undefined)[] = new Array(records.length);
  const firstAt = new Map<string, number>();
  for (const [at, record] of records.entries()) if (!firstAt.has(record.id)) firstAt.set(record.id, at);
  const firsts = [...firstAt.values()];
  const claims = await deps.index.claim(holder, firsts.map((at) => (records[at] as InferenceRecord).id));
  const claimed: number[] = [];
  const earlierJobs = new Map<number, ExplainJob>();
  claims.forEach((claim, i) => {
    const at = firsts[i] as number;
    const { id } = records[at] as InferenceRecord;
    if (claim.state === 'claimed') {
      claimed.push(at);
      if (claim.job) earlierJobs.set(at, claim.job);
    }
    else if (claim.state === 'in-progress') outcomes[at] = { id, error: inProgress(id) };
    else outcomes[at] = { id, status: claim.entry.explain ? 'queued' : 'skipped', duplicate: true, reason: claim.entry.reason };
  });

  const released: string[] = [];
  const refuse = (item: { at: number; record: InferenceRecord }, error: unknown) => {
    outcomes[item.at] = { id: item.record.id, error: toReportedApiError(error, deps.onInternalError) };
    released.push(item.record.id);
  };
  const prepared: Prepared[] = [];
  let served: ServedModels;
  try {
    served = claimed.length > earlierJobs.size ? await deps.servedModels() : { announced: {}, live: new Map() };
  } catch (error) {
    await releaseQuietly(deps, holder, claimed.map((at) => (records[at] as InferenceRecord).id));
    throw error;
  }
  for (const at of claimed) {
    const record = records[at] as InferenceRecord;
    try {
      prepared.push(await prepare(deps, record, at, now, served, earlierJobs.get(at)));
    } catch (error) {
      // Preparing reads only the record (and what was fetched above): whatever it throws is about
      // this record, so it fails this record alone. An unexpected error is still a bug: a 500
      // INTERNAL for the record, told to onInternalError for the logs, never a sunk batch.
      refuse({ at, record }, error);
    }
  }

  // Storage before the queue: a job must never point at a prediction that is not there.
  const stored: { item: Prepared; capture: CaptureDecision }[] = [];
  await forEachConcurrent(prepared, deps.store.parallelism, async (item) => {
    try {
      stored.push({ item, capture: await store(deps, item) });
    } catch (error) {
      refuse(item, error);
    }
  });
  await releaseQuietly(deps, holder, released);

  const storedIds = stored.map(({ item }) => item.record.id);
  try {
    await deps.enqueue(stored.filter(({ capture }) => capture.explain).map(({ item, capture }) => explainJob(item, capture)));
  } catch (error) {
    await releaseQuietly(deps, holder, storedIds);
    throw error;
  }
  const entries = stored.map(({ item, capture }) => ({
    id: item.record.id,
    entry: { folder: item.folder, model: item.record.model.name, explain: capture.explain, reason: capture.reason, acceptedAt: item.acceptedAt } satisfies IndexEntry,
  }));
  let recorded: boolean[];
  try {
    recorded = await deps.index.commit(holder, entries);
  } catch (error) {
    // The jobs are queued but the ids are not recorded: not "nothing was accepted". A retry
    // re-stores the same documents, re-adds the same job ids (BullMQ ignores them) and records.
    await releaseQuietly(deps, holder, storedIds);
    throw new ApiError(
      503,
      'ACCEPT_INCOMPLETE',
      `the records were stored and queued but their ids could not be recorded; retry with the same ids to complete them (a retry makes no second job) (${error instanceof Error ? error.message : String(error)})`,
      undefined,
      5,
    );
  }
  stored.forEach(({ item, capture }, i) => {
    const { id } = item.record;
    // Not recorded: this request's claim expired and another request holds the id now.
    outcomes[item.at] = recorded[i]
      ? { id, status: capture.explain ? 'queued' : 'skipped', duplicate: false, reason: capture.reason, model: item.record.model.name }
      : { id, error: inProgress(id) };
  });
  // A repeat of an id within this batch has no outcome of its own: it is its first's, as a
  // duplicate, without `model` (the first already counted the capture decision), or its first's
  // error when that is not final (409 in progress, 503). A first refused for its own content (a
  // final 4xx) says nothing about the repeat: the repeats are judged on their own, in a round of
  // their own (the next copy of the id is then the first).
  const ownRound: number[] = [];
  const answered = records.map((record, at): RecordOutcome | undefined => {
    const own = outcomes[at];
    if (own) return own;
    const first = outcomes[firstAt.get(record.id) as number] as RecordOutcome;
    if ('status' in first) return { id: first.id, status: first.status, duplicate: true, reason: first.reason };
    if (!isFinalRefusal(first.error)) return first;
    ownRound.push(at);
    return undefined;
  });
  if (ownRound.length > 0) {
    const judged = await acceptRecords(deps, ownRound.map((at) => records[at] as InferenceRecord));
    ownRound.forEach((at, i) => {
      answered[at] = judged[i];
    });
  }
  return answered as RecordOutcome[];
}

/** A refusal of the record itself (bad input), which retrying the same record cannot change. */
const isFinalRefusal = (error: ApiError) => error.status >= 400 && error.status < 500 && error.status !== 409 && error.status !== 429;

/** Releases claims; a failure is left to the claims' expiry (the caller is already answering an error). */
async function releaseQuietly(deps: AcceptDeps, holder: string, ids: readonly string[]): Promise<void> {
  await deps.index.release(holder, ids).catch(() => undefined);
}
