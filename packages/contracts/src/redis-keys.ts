import { explainQueueName } from './explain-job.ts';

/**
 * Redis keys the pipeline keeps beside BullMQ's own, under the same prefix, defined once so
 * the ingest service, workers and the metrics exporter agree.
 */
export function redisKeys(prefix: string) {
  return {
    /**
     * BullMQ's hash of an explain job (job id = inference id). Workers add their own field to it
     * (the reviewer-sampling decision), which then lives exactly as long as the job.
     */
    explainJob: (id: string) => `${prefix}:${explainQueueName}:${id}`,
    /**
     * String: the id of the last entry of the explain queue's event stream whose counts the metrics
     * exporter has served in a scrape. The next exporter resumes reading after it, so what finished
     * while none ran (a deploy, a crash) is still counted (see the exporter's events-cursor.ts).
     */
    exporterEventsCursor: `${prefix}:exporter:events-cursor`,
    /**
     * Sorted set: each metrics exporter running on this prefix → when it last said so (epoch ms).
     * One is how it is run; a second counts every event again and moves the same cursor.
     */
    exporterInstances: `${prefix}:exporter:instances`,
    /** Per inference: where it is stored and whether it was sent to be explained (the idempotency record). */
    inference: (id: string) => `${prefix}:inference:${id}`,
    /**
     * Per inference: set when an attempt's enqueue failed, which may have left the id's job stored
     * but never queued; ingest then checks that job when the id is claimed again (and only then).
     */
    enqueueFailed: (id: string) => `${prefix}:enqueue-failed:${id}`,
    /**
     * Per inference not yet recorded: the folder (with its model, version and acceptedAt) an
     * accept attempt stores it in, set before its first storage write and deleted when the id is
     * recorded. A retry of an attempt that never recorded the id (its process killed, or answered
     * 503) stores into the same folder, and an erasure of the id finds it (ingest's inference-index.ts).
     */
    pendingFolder: (id: string) => `${prefix}:pending-folder:${id}`,
    /** Hash `model|decision|reason` → count of capture-sampling decisions. */
    captureDecisions: `${prefix}:capture-decisions`,
    /** Hash model name → version, written by each worker for the models it has loaded. */
    servedModels: `${prefix}:served-models`,
    /**
     * Sorted set `model@version` → epoch ms of the last heartbeat of any worker serving it: which
     * versions some live worker serves now (a worker hands such jobs on instead of failing them).
     */
    liveModelVersions: `${prefix}:live-model-versions`,
    /**
     * Sorted set `model@version#weightsSha256` → epoch ms of the last heartbeat of any worker
     * serving that version with those weights (see model-weights-liveness.ts): more than one live
     * hash under one version is a conflict, logged by the worker that starts into it and exported
     * as gradcam_model_weights_variants. Members unseen for 10 expiries are trimmed by each beat,
     * and the key expires 10 expiries after the last beat of any worker.
     */
    liveModelWeights: `${prefix}:live-model-weights`,
    /**
     * Review pool, pending items served by priority (all models, and per model): sorted set
     * `{sampledAt, 16 digits}:{id}` → −priority, so its ascending order (ZRANGE) is the serving
     * order: highest priority first, equal priorities oldest first (see review-pool's README).
     */
    reviewPool: `${prefix}:review:by-priority`,
    reviewModelPool: (model: string) => `${prefix}:review:by-priority:${model}`,
    /**
     * Review pool, pending items of the uniform draw (the policy's `rate=` term), served oldest
     * first in their own share of the leases: sorted set `{sampledAt, 16 digits}:{id}` → sampledAt.
     */
    reviewBaseline: `${prefix}:review:baseline`,
    reviewModelBaseline: (model: string) => `${prefix}:review:baseline:${model}`,
    /**
     * The pool as it was kept before the two above (sorted set id → priority): what is still in it
     * (an item added, or given back, by a version before them) is moved into them by the next lease.
     */
    reviewLegacyPool: `${prefix}:review:pool`,
    reviewLegacyModelPool: (model: string) => `${prefix}:review:pool:${model}`,
    /**
     * Hash source → how many new leases the pool has handed out to it since the baseline lane
     * last served one (the source: the model a lease asked for, '' for any model); from the 4th
     * on, a lease of that source tries the baseline first.
     */
    reviewLeaseCount: `${prefix}:review:lease-count`,
    /** Pending items by age: sorted set id → sampledAt (the backlog's oldest item). */
    reviewPendingAge: `${prefix}:review:pending-age`,
    /**
     * One model's pending items by age (id → sampledAt), so that a model's backlog reads its oldest
     * item without reading the other models' (a pool written before it is indexed by the first
     * backlog of that model: review-pool's backlogScript).
     */
    reviewModelPendingAge: (model: string) => `${prefix}:review:pending-age:${model}`,
    /** Set (60 s) while one caller indexes a model's pending items by age, and for a minute after. */
    reviewModelIndexing: (model: string) => `${prefix}:review:indexing:${model}`,
    /**
     * When a model's pending items were last indexed by age in full (epoch ms, Redis's clock):
     * the model is indexed again once that is review-pool's reindexIntervalMs old (an hour).
     * Deleted once the model's pool and pending index are empty (review-pool's forgetEmptyModel).
     */
    reviewModelIndexed: (model: string) => `${prefix}:review:indexed:${model}`,
    /** Leased items: sorted set id → lease expiry (epoch ms). */
    reviewLeases: `${prefix}:review:leases`,
    /** Items sampled and not yet expired: sorted set id → sampledAt, for listings by time. */
    reviewIndex: `${prefix}:review:index`,
    /**
     * Closed (reviewed or broken) items: sorted set id → when their keys expire (Redis's clock, ms).
     * The pool's scripts take expired ids out of reviewIndex a few at a time (review-pool's item-lua.ts).
     */
    reviewExpiring: `${prefix}:review:expiring`,
    /** An item's fixed part: what the worker added, written once (see review-pool's item-lua.ts). */
    reviewItem: (id: string) => `${prefix}:review:item:${id}`,
    /** An item's state (status, lease, verdict, markers): the only part the pool's scripts write. */
    reviewState: (id: string) => `${prefix}:review:state:${id}`,
    /** A reviewer's leases: sorted set id → lease expiry (epoch ms); /next answers a live one again. */
    reviewLeasedBy: (reviewer: string) => `${prefix}:review:leased-by:${reviewer}`,
    /** Items a reviewer skipped: sorted set id → when (epoch ms); never leased to them again while remembered. */
    reviewSkipped: (reviewer: string) => `${prefix}:review:skipped:${reviewer}`,
    /** The reviewers whose skip memory holds an item (a set, expiring with its newest skip): what an erasure takes it out of. */
    reviewSkippers: (id: string) => `${prefix}:review:skippers:${id}`,
    /** Hash `model|class|verdict` → count. */
    reviewVerdicts: `${prefix}:review:verdicts`,
    /** Hash `model|class|verdict` → count of verdicts their reviewer took back (still counted in reviewVerdicts). */
    reviewUndos: `${prefix}:review:undos`,
    /** Hash model → count of skips. */
    reviewSkips: `${prefix}:review:skips`,
    /** Hash model → count of items set aside as broken (their stored files were missing or invalid). */
    reviewBroken: `${prefix}:review:broken`,
    /** Hash `model|decision|reason` → count of reviewer-sampling decisions (written by workers). */
    reviewDecisions: `${prefix}:review:decisions`,
    /**
     * Hash model → `threshold|epochMs`: the threshold a worker's own budget histogram places
     * (`ownThreshold`: the one in force once the worker is past its first events; a young one
     * decides by the higher of its own and this) and when it last recorded it (see formatReviewThreshold);
     * recorded only once that histogram places it (`ownThresholdPlaced`), a young worker's
     * decision leaving the field as it is. A decision without a threshold (a policy with
     * no budget) deletes the model's field, and readers skip one older than
     * reviewThresholdMaxAgeMs, so a replaced policy or a retired model stops reporting it.
     */
    reviewThresholds: `${prefix}:review:thresholds`,
    /** Per model and minute: explanations stored (the fleet-wide traffic the budget adapts to). */
    reviewTraffic: (model: string, minute: number) => `${prefix}:review:traffic:${model}:${minute}`,
    /** Per model and minute, a hash class index → explanations stored: the fleet-wide traffic per class the class quota divides by (kept and expiring with reviewTraffic). */
    reviewClassTraffic: (model: string, minute: number) => `${prefix}:review:traffic:${model}:${minute}:classes`,
    /**
     * Per model, `perHour|minute` (formatReviewTrafficLevel): the rate the model's fleet-wide traffic
     * last flowed at and the last whole minute it was measured to. Workers read it for the budget's
     * rate while traffic comes back after a silence, until the counts of reviewTraffic show it again
     * (see the worker's fleet-traffic.ts); it expires reviewTrafficLevelTtlSeconds after it was last set.
     */
    reviewTrafficLevel: (model: string) => `${prefix}:review:traffic-level:${model}`,
    /**
     * Per model, the epoch ms of the latest event the fleet counted in reviewTraffic (set with the
     * count, where later than the one there): the fleet's quiet spell before an event of a sparse
     * model, which no worker sees alone (see the worker's review-sampler.ts). Expires
     * reviewTrafficLastTtlSeconds after it was last set.
     */
    reviewTrafficLast: (model: string) => `${prefix}:review:traffic-last:${model}`,
    /**
     * Per model and minute, the epoch ms of the earliest event counted in that minute's
     * reviewTraffic (set with the count, where earlier; kept and expiring with it): with the
     * counts, a young fleet's rate (its events after the first, over the time since), which a
     * fleet starting together reads before any whole minute holds its traffic (see the worker's
     * review-sampler.ts).
     */
    reviewTrafficFirst: (model: string, minute: number) => `${prefix}:review:traffic-first:${model}:${minute}`,
  } as const;
}

export const captureDecisionField = (model: string, explain: boolean, reason: string) => `${model}|${explain ? 'explain' : 'skip'}|${reason}`;

/**
 * How long a recorded review threshold stands for the fleet's: a model with a budget records one
 * with every stored explanation, so a field this old belongs to a model no longer served (or to a
 * fleet whose policy lost its budget before a worker could delete it). An hour, not minutes: a
 * model with rare traffic keeps its threshold between events.
 */
export const reviewThresholdMaxAgeMs = 60 * 60_000;

/** A reviewThresholds field: `threshold|epochMs`. */
export const formatReviewThreshold = (threshold: number, recordedAt: number) => `${threshold}|${recordedAt}`;

/**
 * Reads a reviewThresholds field back; undefined when it is malformed (a bare number, as workers
 * before the timestamp wrote, included: its age is unknown) or older than `maxAgeMs` at `now`.
 */
export function parseReviewThreshold(field: string, now: number, maxAgeMs = reviewThresholdMaxAgeMs): number | undefined {
  const [value, at, ...rest] = field.split('|');
  if (rest.length > 0 || value === undefined || value === '' || at === undefined || at === '') return undefined;
  const threshold = Number(value);
  const recordedAt = Number(at);
  if (!Number.isFinite(threshold) || !Number.isFinite(recordedAt)) return undefined;
  return now - recordedAt > maxAgeMs ? undefined : threshold;
}

/** How long a model's traffic level (reviewTrafficLevel) is kept after the traffic last flowed: a model back after a longer silence is read afresh. */
export const reviewTrafficLevelTtlSeconds = 24 * 60 * 60;

/** How long a model's latest event time (reviewTrafficLast) is kept: the longest quiet spell a worker counts before an event. */
export const reviewTrafficLastTtlSeconds = 24 * 60 * 60;

/** The rate a model's fleet-wide traffic last flowed at (events/h), and the last whole minute (epoch minutes) it was measured to. */
export interface ReviewTrafficLevel {
  readonly perHour: number;
  readonly minute: number;
}

/** A reviewTrafficLevel value: `perHour|minute`. */
export const formatReviewTrafficLevel = (level: ReviewTrafficLevel) => `${level.perHour}|${level.minute}`;

/** Reads a reviewTrafficLevel value back; undefined when there is none or it is malformed. */
export function parseReviewTrafficLevel(text: string | null | undefined): ReviewTrafficLevel | undefined {
  const [rate, at, ...rest] = (text ?? '').split('|');
  if (rest.length > 0 || rate === undefined || rate === '' || at === undefined || at === '') return undefined;
  const perHour = Number(rate);
  const minute = Number(at);
  return perHour > 0 && Number.isFinite(perHour) && Number.isSafeInteger(minute) ? { perHour, minute } : undefined;
}
