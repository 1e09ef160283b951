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
  predictionFileName,
  predictionSchemaVersion,
} from '@gradcam/contracts';
import type { ApiError } from '@gradcam/http-service';
import { forEachConcurrent } from '@gradcam/storage';
import { idReused, inferenceInProgress, toApiError, toReportedApiError } from './api-error.ts';
import { decideCapture } from './capture-sampling.ts';
import { HeldClaims } from './held-claims.ts';
import { type ReferenceScope, type ReferencedHead, jobImage, lookAtReferences, referencedImage, referencedKey } from './image-reference.ts';
import { sniffImageFormat } from './image-format.ts';
import type { ClaimResult, HeldClaim, HoldResult, InferenceIndex, PendingFolder } from './inference-index.ts';
import { decodeInlineImage } from './inline-image.ts';
import { resolveModelVersion } from './model-version.ts';
import { type QueueDeps, type QueueOutcome, type StoredRecord, queueAndRecord, releaseQuietly } from './queue-and-record.ts';
import { differingParts, recordFingerprint } from './record-fingerprint.ts';
import type { ServedModels } from './served-models.ts';

/** The storage operations ingest needs (a BlobStore has them). */
export interface IngestStore {
  readonly parallelism: number;
  put(key: string, body: Uint8Array, options: { contentType: string }): Promise<unknown>;
  head(key: string): Promise<ReferencedHead | undefined>;
  /** Takes back what a refused record wrote (see discardWrites). */
  delete(key: string): Promise<unknown>;
}

export interface AcceptDeps extends QueueDeps {
  readonly store: IngestStore;
  /** What workers said about the models they serve (see resolveModelVersion). */
  readonly servedModels: () => Promise<ServedModels>;
  readonly policy: CapturePolicy;
  readonly storagePrefix: string;
  /** Where `s3://` references may point: this store's bucket (ingest reads nothing outside it), under these prefixes. */
  readonly references: ReferenceScope;
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
  /** Epoch ms: now, or the acceptedAt of the job an earlier attempt of this id queued. */
  readonly acceptedAt: number;
  /** The capture decision of that earlier job (which is explained whatever is decided now). */
  readonly capture: CaptureDecision | undefined;
  /** The folder is an earlier attempt's job's, which points at its prediction.json: never deleted from. */
  readonly earlierJob: boolean;
  /** The pending folder of an earlier attempt that recorded nothing (see PendingFolder), as the claim found it. */
  readonly earlier: PendingFolder | undefined;
  readonly writes: { key: string; body: Uint8Array; contentType: string }[];
  /** The keys of `writes` the store has acknowledged. */
  readonly written: string[];
  /** Set for inline images at once; for references after the HEAD check. */
  image: PredictionDocument['image'] | undefined;
  /** The store key an `s3://` reference names. */
  referencedKey: string | undefined;
}

/**
 * Whether a record stores into an earlier attempt's pending folder: of the same model, at its
 * version unless the record names another (a record naming its version is stored at that one).
 */
const storesInto = (pending: PendingFolder, record: InferenceRecord) => pending.model === record.model.name && (record.model.version === undefined || record.model.version === pending.version);

/** Resolves the model version and folder and decodes an inline image: everything checked before storage. */
function prepare(
  deps: AcceptDeps,
  record: InferenceRecord,
  at: number,
  now: number,
  served: ServedModels,
  { job, earlier, proposed }: { job?: ExplainJob | undefined; earlier?: PendingFolder | undefined; proposed?: PendingFolder | undefined },
): Prepared {
  // One shape for every item (each field set, in this order): store and the steps after it read
  // many items, and objects of several shapes make those reads slow.
  const item = (folder: string, version: string, acceptedAt: number, capture: CaptureDecision | undefined, earlierJob: boolean): Prepared =>
    withImage(deps, { at, record, folder, version, acceptedAt, capture, earlierJob, earlier, writes: [], written: [], image: undefined, referencedKey: undefined });
  // An earlier attempt's job names the folder the worker will write to: every record of the id
  // must agree with it, whatever the day or the announced version is now.
  if (job) return item(job.folder, job.model.version, job.acceptedAt, job.capture, true);
  // An earlier attempt stored the id and recorded nothing (its process killed, a 503 before its job
  // was queued): this one stores into the same folder, whatever the day or the announced version
  // is now, so that no folder of the id is left that no record names (out of reach of erasure).
  if (earlier && storesInto(earlier, record)) return item(earlier.folder, earlier.version, earlier.acceptedAt, undefined, false);
  const version = resolveModelVersion(served, record.model);
  // The folder the claim proposed for the id (its first copy's), where this copy resolves alike.
  const folder = proposed?.model === record.model.name && proposed.version === version ? proposed.folder : folderOf(deps, record, version, now);
  return item(folder, version, now, undefined, false);
}

const folderOf = (deps: AcceptDeps, record: InferenceRecord, version: string, now: number) =>
  inferenceFolder({ prefix: deps.storagePrefix, model: record.model.name, modelVersion: version, acceptedAt: new Date(now), inferenceId: record.id });

/**
 * The pending folder a record's claim writes for its id (see InferenceIndex.claim): the folder,
 * version and image key it resolves to now, as prepare will store it where the claim finds no
 * earlier attempt's job or folder. None for a record refused before storage (its model not
 * served, an inline image that is no image): nothing to write.
 */
function proposedFolder(deps: AcceptDeps, record: InferenceRecord, now: number, served: ServedModels): PendingFolder | undefined {
  try {
    const version = resolveModelVersion(served, record.model);
    const folder = folderOf(deps, record, version, now);
    const pending = { folder, model: record.model.name, version, acceptedAt: now };
    if (!('base64' in record.image)) return pending;
    // The format from the first bytes alone: the whole image is decoded once the id is claimed.
    const extension = sniffImageFormat(Buffer.from(record.image.base64.slice(0, 64), 'base64'))?.extension;
    return extension === undefined ? undefined : { ...pending, image: keyIn(folder, `input.${extension}`) };
  } catch {
    // Whatever refuses the record (or, a bug, fails it 500) is thrown again by prepare, for this record alone.
    return undefined;
  }
}

const samePending = (a: PendingFolder | undefined, b: PendingFolder) =>
  a !== undefined && a.folder === b.folder && a.model === b.model && a.version === b.version && a.acceptedAt === b.acceptedAt && a.image === b.image;

/** The pending folder an item is stored in (see PendingFolder). */
function pendingOf(item: Prepared): PendingFolder {
  const image = item.image && 'key' in item.image ? { image: item.image.key } : {};
  return { folder: item.folder, model: item.record.model.name, version: item.version, acceptedAt: item.acceptedAt, ...image };
}

/**
 * What an earlier attempt that recorded nothing wrote and this one will not write over: its
 * prediction.json and image where this one stores into another folder (its record names another
 * model or version), else an image of another key (input.png after input.jpg, or an image sent
 * by reference now).
 */
function earlierWrites(item: Prepared): string[] {
  const { earlier } = item;
  if (!earlier) return [];
  const own = new Set([...item.writes.map(({ key }) => key), keyIn(item.folder, predictionFileName)]);
  const keys = earlier.folder === item.folder ? [] : [keyIn(earlier.folder, predictionFileName)];
  if (earlier.image !== undefined) keys.push(earlier.image);
  return keys.filter((key) => !own.has(key));
}

/** Decodes an inline image into the item's writes, or checks the key an `s3://` reference names. */
function withImage(deps: AcceptDeps, item: Prepared): Prepared {
  const { record, folder } = item;
  if ('base64' in record.image) {
    const inline = decodeInlineImage(record.image.base64);
    const key = keyIn(folder, `input.${inline.extension}`);
    item.writes.push({ key, body: inline.bytes, contentType: inline.contentType });
    item.image = { key, contentType: inline.contentType, bytes: inline.bytes.length, sha256: inline.sha256 };
  } else {
    item.referencedKey = referencedKey(deps.references, record.image.uri);
  }
  return item;
}

/**
 * Writes prediction.json (and an inline image) of a checked item, each write only while this
 * request still holds the id (`held`, see HeldClaims); else what it found instead.
 */
async function store(deps: AcceptDeps, item: Prepared, held: () => Promise<HoldResult>): Promise<{ capture: CaptureDecision } | { lost: HoldResult }> {
  const { record } = item;
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
  for (const write of item.writes) {
    const hold = await held();
    if (hold.state !== 'held') return { lost: hold };
    await deps.store.put(write.key, write.body, { contentType: write.contentType });
    item.written.push(write.key);
  }
  return { capture };
}

/**
 * Deletes what a copy refused in storage wrote (an inline image stored before its prediction.json
 * failed): its client may never retry. (The id's pending folder still names the folder: a retry
 * stores into it, and an erasure finds it; see pendFolders.) Only the writes the store acknowledged (a store that stopped answering at the first
 * write delays the 503 no further), only in a folder this request chose, and while it still holds
 * the id (before its claim is given back: no other attempt can be writing there). Best effort: a
 * write that failed may still land, and a delete may fail.
 */
async function discardWrites(deps: AcceptDeps, item: Prepared, held: () => Promise<HoldResult>): Promise<void> {
  if (item.earlierJob || item.written.length === 0) return;
  try {
    if ((await held()).state !== 'held') return;
    for (const key of item.written) await deps.store.delete(key);
  } catch {
    // Left behind, as before: the retry writes the same keys when it chooses the same folder.
  }
}

/**
 * Makes each item's id's pending folder the one it stores into, before anything is stored, so
 * that a retry of this attempt, should it store and then record nothing (its process killed, a 503
 * before its job is queued), stores into the same folder, and an erasure of the id finds it. The
 * claim wrote it as a rule (`inRedis`: the folder it proposed, or the earlier attempt's it found);
 * an item stored elsewhere (a later copy of its id, an earlier attempt's job's folder, an image of
 * another format) has it written now (HeldClaims.pend: one round trip for those). An item whose
 * record names another model or version than an earlier attempt's pending folder first has that
 * attempt's writes deleted, under its claim and while the pending folder still names them: a
 * failure refuses it (503), the earlier folder still pending, for its retry. Resolves the items to
 * store; the others are answered (`refuse`, `lost`). `touched`: the ids whose storage was asked
 * anything (their pending folders are kept when their claims are given back).
 */
async function pendFolders(
  deps: AcceptDeps,
  items: readonly Prepared[],
  held: HeldClaims,
  inRedis: (item: Prepared) => PendingFolder | undefined,
  answer: { refuse: (id: string, at: number, error: unknown) => unknown; lost: (item: Prepared, hold: HoldResult) => void },
  touched: Set<string>,
): Promise<Prepared[]> {
  const dropped = new Set<Prepared>();
  /** `list` with those found not held (answered `lost`) dropped; on a failure, all of it refused. */
  const holding = async (list: readonly Prepared[], ask: (claims: HeldClaim[]) => Promise<HoldResult[]>): Promise<Prepared[]> => {
    if (list.length === 0) return [];
    let holds: HoldResult[];
    try {
      holds = await ask(list.map((item) => ({ id: item.record.id, acceptedAt: item.acceptedAt, pending: pendingOf(item) })));
    } catch (error) {
      for (const item of list) answer.refuse(item.record.id, item.at, error);
      for (const item of list) dropped.add(item);
      return [];
    }
    return list.filter((item, i) => {
      const hold = holds[i] as HoldResult;
      if (hold.state === 'held') return true;
      answer.lost(item, hold);
      dropped.add(item);
      return false;
    });
  };
  const moving = items.filter((item) => item.earlier !== undefined && item.earlier.folder !== item.folder);
  // Confirmed only (the earlier attempt's folder stays pending until its writes are gone).
  for (const item of await holding(moving, (claims) => held.confirm(claims.map(({ id, acceptedAt }) => ({ id, acceptedAt }))))) {
    touched.add(item.record.id);
    try {
      for (const key of earlierWrites(item)) await deps.store.delete(key);
    } catch (error) {
      answer.refuse(item.record.id, item.at, error);
      dropped.add(item);
    }
  }
  const rest = items.filter((item) => !dropped.has(item));
  const stale = rest.filter((item) => !samePending(inRedis(item), pendingOf(item)));
  await holding(stale, (claims) => held.pend(claims));
  return rest.filter((item) => !dropped.has(item));
}

function explainJob(item: Prepared, capture: CaptureDecision, fingerprint: string | undefined): ExplainJob {
  const image = item.image as PredictionDocument['image'];
  return {
    inferenceId: item.record.id,
    model: { name: item.record.model.name, version: item.version },
    folder: item.folder,
    image: jobImage(image),
    explain: item.record.explain ?? {},
    acceptedAt: item.acceptedAt,
    capture,
    ...(fingerprint !== undefined && { fingerprint }),
  };
}

/** A copy of an id in the batch, prepared or refused before storage was asked anything. */
type Judged = { readonly at: number } & ({ readonly item: Prepared } | { readonly error: unknown });

/**
 * Accepts validated records. Each id is claimed in Redis first, so of concurrent submissions of
 * one id exactly one is accepted (the others: 409 INFERENCE_IN_PROGRESS, or once it is accepted a
 * duplicate, or 409 ID_REUSED where their content differs from the accepted record's: see
 * answerKnown). The claimer resolves the model version (or takes an earlier attempt's job's or
 * pending folder's), records the folder it stores in as the id's pending folder (pendFolders),
 * decides capture, writes prediction.json (and an inline image) BEFORE enqueueing, then turns its claim into the idempotency entry, counting
 * the capture decision in the same step. A claim whose record is not accepted is released, so a
 * retry can go on at once. Failures are per record: one bad record never sinks its neighbours.
 *
 * A batch may repeat an id. Its copies are judged in batch order, under the one claim: a copy
 * refused for its own content (a final 4xx) has that answer and the next copy is judged; the
 * first copy that is not (accepted, or refused for now: 409, 503, 500) decides the copies after
 * it: where its id is accepted, each is a duplicate, without `model` (the decision is counted
 * once), or 409 ID_REUSED if its own content differs; else each shares its error. All of it in one pass: one claim per id, and the HEADs of every copy's reference
 * taken together, each key once.
 *
 * `requestId` is the HTTP request's: a record answered 500 or 503 names it, and onServerError
 * is told it, so an operator finds the error in the log.
 */
export async function acceptRecords(deps: AcceptDeps, records: readonly InferenceRecord[], requestId: string): Promise<RecordOutcome[]> {
  const now = deps.now?.() ?? Date.now();
  const holder = randomUUID();
  const outcomes: (RecordOutcome | undefined)[] = new Array(records.length);
  const copiesOf = new Map<string, number[]>();
  for (const [at, record] of records.entries()) {
    const copies = copiesOf.get(record.id);
    if (copies) copies.push(at);
    else copiesOf.set(record.id, [at]);
  }
  const ids = [...copiesOf.keys()];
  const copies = (id: string) => copiesOf.get(id) as number[];
  /** Per id, the copy whose outcome the copies after it share. */
  const deciding = new Map<string, number>();
  /** Per id accepted (before, or by this request), its entry: each later copy is compared with it (a duplicate, or 409 ID_REUSED). */
  const settled = new Map<string, IndexEntry>();
  /** The answer to a copy whose id is accepted, by `entry` (see answerKnown). */
  const known = (at: number, entry: IndexEntry, fingerprint?: string): RecordOutcome => {
    settled.set((records[at] as InferenceRecord).id, entry);
    return answerKnown(records[at] as InferenceRecord, entry, fingerprint);
  };
  // The versions workers serve (cached briefly: as a rule no round trip), read before the claim,
  // so that the claim writes each new id's pending folder, where its first copy resolves to now.
  const served = await deps.servedModels();
  const proposed = new Map<string, PendingFolder>();
  for (const id of ids) {
    const pending = proposedFolder(deps, records[copies(id)[0] as number] as InferenceRecord, now, served);
    if (pending) proposed.set(id, pending);
  }
  let claims: ClaimResult[];
  const held = new HeldClaims(deps.index, holder, performance.now());
  try {
    claims = await deps.index.claim(holder, ids, proposed);
  } catch (error) {
    // The claim may have run (a reply lost, or Redis running it after the command timed out): the
    // release follows it, with the pending folders it wrote. Not awaited: the 503 need not wait out a second timeout.
    void releaseQuietly(deps, holder, ids, proposed);
    throw error;
  }
  const claimed: string[] = [];
  const earlierJobs = new Map<string, ExplainJob>();
  /** The pending folders the claims found: an earlier attempt stored the id there and recorded nothing. */
  const pendingFolders = new Map<string, PendingFolder>();
  /** The enqueue-failed marks the claims found: an earlier attempt's enqueue of the id failed. */
  const marks = new Map<string, { readonly mark: string; readonly withJob: boolean }>();
  claims.forEach((claim, i) => {
    const id = ids[i] as string;
    const at = copies(id)[0] as number;
    if (claim.state === 'claimed') {
      claimed.push(id);
      if (claim.job) earlierJobs.set(id, claim.job);
      if (claim.enqueueFailed) marks.set(id, claim.enqueueFailed);
      if (claim.pending) pendingFolders.set(id, claim.pending);
      return;
    }
    deciding.set(id, at);
    outcomes[at] = claim.state === 'in-progress' ? { id, error: inferenceInProgress(id) } : known(at, claim.entry);
  });

  // What needs no storage, copy by copy, up to the first copy it decides (refused for now, or an
  // inline image). Preparing reads only the record (and what was fetched above): whatever it
  // throws is about this copy alone; an unexpected error is still a bug, answered 500 INTERNAL
  // and told to onServerError below, if the copy's answer is used.
  const judged = new Map<string, Judged[]>();
  for (const id of claimed) {
    const list: Judged[] = [];
    judged.set(id, list);
    const job = earlierJobs.get(id);
    const earlier = pendingFolders.get(id);
    for (const at of copies(id)) {
      try {
        // An earlier attempt queued this id's job (503 ACCEPT_INCOMPLETE): the id is accepted with
        // the job's record, and a copy with other content would be written over that job's folder.
        const differs = job?.fingerprint === undefined ? undefined : differingParts(job.fingerprint, recordFingerprint(records[at] as InferenceRecord));
        if (job && differs !== undefined && differs.length > 0) throw idReused(id, job.acceptedAt, differs);
        const item = prepare(deps, records[at] as InferenceRecord, at, now, served, { job, earlier, proposed: proposed.get(id) });
        list.push({ at, item });
        if (item.referencedKey === undefined) break;
      } catch (error) {
        list.push({ at, error });
        if (!isFinalRefusal(toApiError(error, requestId))) break;
      }
    }
  }
  // The references, looked at together (each key once: the copies of a resent record name one).
  const keys = new Set<string>();
  for (const list of judged.values()) for (const j of list) if ('item' in j && j.item.referencedKey !== undefined) keys.add(j.item.referencedKey);
  const looked = await lookAtReferences(deps.store, keys);
  const refuse = (id: string, at: number, error: unknown) => {
    const answer = toReportedApiError(error, requestId, deps.onServerError);
    outcomes[at] = { id, error: answer };
    return answer;
  };
  /** The copy, ready to store (its reference's image set), or why it cannot be. */
  const verdict = (j: Judged): { item: Prepared } | { error: unknown } => {
    if ('error' in j) return j;
    const { record, referencedKey: key } = j.item;
    if (key === undefined || !('uri' in record.image)) return j;
    try {
      j.item.image = referencedImage(record.image.uri, looked.get(key));
      return j;
    } catch (error) {
      return { error };
    }
  };
  const chosen: Prepared[] = [];
  for (const [id, list] of judged) {
    for (const j of list) {
      const judgement = verdict(j);
      if ('item' in judgement) chosen.push(judgement.item);
      else if (isFinalRefusal(refuse(id, j.at, judgement.error))) continue;
      deciding.set(id, j.at);
      break;
    }
  }

  // Storage before the queue: a job must never point at a prediction that is not there.
  const stored: { item: Prepared; capture: CaptureDecision }[] = [];
  /** The answer to a copy whose claim was found lost before a write: the attempt that accepted the id since decides (a duplicate, or 409 ID_REUSED), or 409 while another holds it. */
  const lost = (item: Prepared, hold: HoldResult) => {
    outcomes[item.at] = hold.state === 'accepted' ? known(item.at, hold.entry) : { id: item.record.id, error: inferenceInProgress(item.record.id) };
  };
  /** The pending folder each id's claim left: the earlier attempt's it found, else (no job found) the one it proposed. */
  const inRedis = (item: Prepared) => {
    const { id } = item.record;
    return pendingFolders.get(id) ?? (earlierJobs.has(id) ? undefined : proposed.get(id));
  };
  const touched = new Set<string>();
  const writing = await pendFolders(deps, chosen, held, inRedis, { refuse, lost }, touched);
  await forEachConcurrent(writing, deps.store.parallelism, async (item) => {
    touched.add(item.record.id);
    const holds = async () => (await held.confirm([{ id: item.record.id, acceptedAt: item.acceptedAt }]))[0] as HoldResult;
    try {
      // An earlier attempt's image of another key in this folder: best effort (an erasure of the
      // id deletes the whole folder all the same).
      if (item.earlier?.folder === item.folder) for (const key of earlierWrites(item)) await deps.store.delete(key).catch(() => undefined);
      const result = await store(deps, item, holds);
      if ('capture' in result) stored.push({ item, capture: result.capture });
      // The claim lapsed.
      else lost(item, result.lost);
    } catch (error) {
      refuse(item.record.id, item.at, error);
      await discardWrites(deps, item, holds);
    }
  });
  const kept = new Set(stored.map(({ item }) => item.record.id));
  // A record refused before its storage was asked anything takes back the pending folder its claim proposed.
  const untouched = new Map([...proposed].filter(([id]) => !touched.has(id) && !pendingFolders.has(id)));
  await releaseQuietly(deps, holder, claimed.filter((id) => !kept.has(id)), untouched);

  // An earlier attempt's job that its claim found beside an enqueue-failed mark may be only a hash
  // in no state, left by an add that failed partway through BullMQ's script: it is checked (under
  // the claim) before the add, which then makes the job (with the earlier one's folder, acceptedAt
  // and capture, which the prepared item took). Any other earlier job (its attempt's commit
  // failed: 503 ACCEPT_INCOMPLETE) was queued: no check. See queueAndRecord. Each entry keeps its
  // record's fingerprint: the id sent again with other content is refused (answerKnown).
  const entries = stored.map(
    ({ item, capture }): IndexEntry => ({
      folder: item.folder,
      model: item.record.model.name,
      explain: capture.explain,
      reason: capture.reason,
      acceptedAt: item.acceptedAt,
      fingerprint: recordFingerprint(item.record, item.image?.sha256),
    }),
  );
  const queued = await queueAndRecord(
    deps,
    holder,
    stored.map(({ item, capture }, i): StoredRecord => {
      const { id } = item.record;
      const mark = marks.get(id);
      return {
        id,
        entry: entries[i] as IndexEntry,
        ...(capture.explain && { job: explainJob(item, capture, (entries[i] as IndexEntry).fingerprint) }),
        mark: mark?.mark ?? '',
        checkFirst: mark?.withJob ?? false,
      };
    }),
    requestId,
    held,
  );
  stored.forEach(({ item, capture }, i) => {
    const { id } = item.record;
    const outcome = queued[i] as QueueOutcome;
    if (outcome === 'recorded') {
      outcomes[item.at] = { id, status: capture.explain ? 'queued' : 'skipped', duplicate: false, reason: capture.reason, model: item.record.model.name };
      settled.set(id, entries[i] as IndexEntry);
    } else if ('acceptedBefore' in outcome) outcomes[item.at] = known(item.at, outcome.acceptedBefore, (entries[i] as IndexEntry).fingerprint);
    else outcomes[item.at] = { id, error: outcome };
  });
  // A later copy of an accepted id is compared with what was accepted; one of an id refused
  // (409 INFERENCE_IN_PROGRESS, 503, …) shares that refusal.
  return records.map((record, at): RecordOutcome => {
    const own = outcomes[at];
    if (own) return own;
    const entry = settled.get(record.id);
    if (entry) return answerKnown(record, entry);
    return outcomes[deciding.get(record.id) as number] as RecordOutcome;
  });
}

/**
 * The answer to a record whose id was accepted before: its duplicate (the first decision, not
 * counted again), or 409 ID_REUSED where the entry's fingerprint says the record's content differs
 * (nothing of it is stored). An entry without a fingerprint (written before ingest kept one, or by
 * a worker for an explained job) cannot tell: any record of its id is a duplicate, as before.
 * `fingerprint`: the record's, where the caller has it.
 */
function answerKnown(record: InferenceRecord, entry: IndexEntry, fingerprint?: string): RecordOutcome {
  const { id } = record;
  const differs = entry.fingerprint === undefined ? undefined : differingParts(entry.fingerprint, fingerprint ?? recordFingerprint(record));
  if (differs !== undefined && differs.length > 0) return { id, error: idReused(id, entry.acceptedAt, differs) };
  return { id, status: entry.explain ? 'queued' : 'skipped', duplicate: true, reason: entry.reason };
}

/** A refusal of the record itself (bad input, or its id accepted with other content), which retrying the same record cannot change. */
const isFinalRefusal = (error: ApiError) => error.code === 'ID_REUSED' || (error.status >= 400 && error.status < 500 && error.status !== 409 && error.status !== 429);
