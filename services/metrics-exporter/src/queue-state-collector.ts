import type { CapturePolicy } from '@gradcam/config';
import { captureDecisionField, captureReasonSchema, modelLiveness, parseLiveModelWeightsMember, parseReviewThreshold, redisKeys } from '@gradcam/contracts';
import { type ExplainQueue, countedJobStates, queueJobCounts, workerCount } from '@gradcam/queue';
import type { Metrics, pipelineMetrics } from '@gradcam/telemetry';
import type { ReviewPool } from '@gradcam/review-pool';
import { reviewReasonSchema } from '@gradcam/sampling';
import type { Redis } from 'ioredis';
import { droppedEntries } from './resume-point.ts';

type PipelineMetrics = Metrics<typeof pipelineMetrics>;

/** The scrape-time reads, each exported as `gradcam_exporter_collect_success{source}`. */
export const collectSources = ['queue', 'workers', 'capture', 'review_sampling', 'review_backlog', 'review_verdicts', 'redis_memory', 'event_stream', 'exporters', 'model_weights'] as const;
export type CollectSource = (typeof collectSources)[number];

export interface QueueStateCollectorDeps {
  readonly queue: ExplainQueue;
  readonly redis: Redis;
  readonly prefix: string;
  readonly policy: CapturePolicy;
  readonly metrics: PipelineMetrics;
  readonly reviews: ReviewPool;
  /** Where the exporter's reading of the event stream is, and since when it reads (`EventStream`). */
  readonly eventStream: { readThrough(): string | undefined; readingSince(): number | undefined };
  /** The exporters running on this queue (`ExporterPresence.count`). */
  readonly presence: { count(now: number): Promise<number> };
  /** Told about each source whose read failed in a scrape. */
  readonly onSourceError: (source: CollectSource, error: unknown) => void;
  /** How long after a worker's last beat its weights stop counting (default: the liveness expiry, modelLiveness.expiryMs). */
  readonly modelLivenessExpiryMs?: number;
  /** Told, at each scrape, the models the workers serve and those ingest has counted capture decisions for (`PipelineRecorder.models`). */
  readonly onModels?: (models: ReadonlySet<string>) => void;
}

/** A field of Redis's INFO text (`name:value` lines), as a number; undefined when absent. */
function infoNumber(info: string, name: string): number | undefined {
  const value = new RegExp(`^${name}:(\\d+)\\r?$`, 'm').exec(info)?.[1];
  return value === undefined ? undefined : Number(value);
}

/** A stream id's time (its milliseconds part); undefined for anything else. */
function streamIdTime(id: string): number | undefined {
  const ms = /^(\d+)-\d+$/.exec(id)?.[1];
  return ms === undefined ? undefined : Number(ms);
}

/** Republishes a Redis hash of `a|b|…` → count as a counter with those labels, in that order. */
function republish<Label extends string>(counter: { reset(): void; inc(labels: Partial<Record<Label, string>>, value: number): void }, labels: readonly Label[], hash: Record<string, string>) {
  counter.reset();
  for (const [field, value] of Object.entries(hash)) {
    const parts = field.split('|');
    counter.inc(Object.fromEntries(labels.map((label, i) => [label, parts[i] ?? ''])) as Partial<Record<Label, string>>, Number(value));
  }
}

/**
 * Reads the queue's state at scrape time (job counts by state, connected workers), the
 * capture-sampling counts ingest keeps in Redis and the review pool's state, so the gauges are
 * never older than the scrape. Each source is read and published on its own: one failing read
 * neither holds back the others nor leaves its own gauges frozen at their last value. A failed
 * source's series are dropped (no sample rather than a stale one) and
 * `gradcam_exporter_collect_success{source}` says so, which an alert rule watches.
 */
export function createQueueStateCollector(deps: QueueStateCollectorDeps) {
  const { metrics } = deps;
  const keys = redisKeys(deps.prefix);
  metrics.captureRate.set(deps.policy.all ? 1 : deps.policy.rate);
  metrics.captureConfidenceThreshold.set(deps.policy.confidenceBelow);

  /**
   * The read position at a scrape that found events after it unread, and when (this process's
   * monotonic clock): while it has not moved, the exporter has been behind at least that long.
   */
  let behindSince: { readonly position: string; readonly at: number } | undefined;

  /** Each source: `read` publishes what it read; `drop` removes its series after a failed read. */
  const sources: Record<CollectSource, { read(now: number): Promise<void>; drop(): void }> = {
    queue: {
      async read() {
        const counts = await queueJobCounts(deps.queue);
        for (const state of countedJobStates) metrics.queueJobs.set({ state }, counts[state]);
      },
      drop: () => metrics.queueJobs.reset(),
    },
    workers: {
      async read() {
        const workers = await workerCount(deps.queue);
        // Unknown (Redis will not list its clients): no made-up 0 or 1 for the no-worker alert.
        if (workers === undefined) metrics.workers.remove();
        else metrics.workers.set(workers);
        metrics.workersKnown.set(workers === undefined ? 0 : 1);
      },
      drop() {
        metrics.workers.remove();
        metrics.workersKnown.remove();
      },
    },
    // Ingest and the workers count in Redis across all their processes; the exporter
    // republishes the totals, so they survive restarts and are never summed twice.
    capture: {
      async read() {
        const [counts, served] = await Promise.all([deps.redis.hgetall(keys.captureDecisions), deps.redis.hkeys(keys.servedModels)]);
        republish(metrics.captureDecisions, ['model', 'decision', 'reason'], counts);
        // Each model's decisions of every reason, at 0 until ingest counts one: the first records
        // of a reason would otherwise be the series' first sample, which rate() does not count
        // (the share of records explained read 100% while a third were skipped). The models the
        // workers announce they serve (ingest takes records only for those, so from before a
        // model's very first record) and those counted for (one retired since).
        const models = new Set([...served, ...Object.keys(counts).map((field) => field.split('|')[0] ?? '')]);
        for (const model of models) {
          for (const reason of captureReasonSchema.options) {
            const explain = reason !== 'not-sampled';
            if (counts[captureDecisionField(model, explain, reason)] === undefined) metrics.captureDecisions.inc({ model, decision: explain ? 'explain' : 'skip', reason }, 0);
          }
        }
        deps.onModels?.(models);
      },
      drop: () => metrics.captureDecisions.reset(),
    },
    review_sampling: {
      async read(now) {
        const [decisions, thresholds, served] = await Promise.all([deps.redis.hgetall(keys.reviewDecisions), deps.redis.hgetall(keys.reviewThresholds), deps.redis.hkeys(keys.servedModels)]);
        republish(metrics.reviewSampled, ['model', 'decision', 'reason'], decisions);
        // Each model's decisions of every reason, at 0 until a worker counts one: the first reviews
        // of a reason would otherwise be the series' first sample, which rate() does not count. The
        // models the workers announce they serve (from a worker's start, before its first
        // decision) and those decided for (one retired since). Every reason, whatever the policy:
        // the exporter cannot read the workers' GRADCAM_REVIEW_POLICY.
        const models = new Set([...served, ...Object.keys(decisions).map((field) => field.split('|')[0] ?? '')]);
        for (const model of models) {
          for (const reason of reviewReasonSchema.options) {
            const decision = reason === 'not-sampled' ? 'skip' : 'review';
            if (decisions[`${model}|${decision}|${reason}`] === undefined) metrics.reviewSampled.inc({ model, decision, reason }, 0);
          }
        }
        metrics.reviewThreshold.reset();
        // Only thresholds recorded recently: a retired model's, or one from before a policy
        // without a budget, would otherwise be reported for ever.
        for (const [model, field] of Object.entries(thresholds)) {
          const threshold = parseReviewThreshold(field, now);
          if (threshold !== undefined) metrics.reviewThreshold.set({ model }, threshold);
        }
      },
      drop() {
        metrics.reviewSampled.reset();
        metrics.reviewThreshold.reset();
      },
    },
    review_backlog: {
      async read(now) {
        const backlog = await deps.reviews.backlog(now);
        metrics.reviewBacklog.set({ state: 'pending' }, backlog.pending);
        metrics.reviewBacklog.set({ state: 'leased' }, backlog.leased);
        metrics.reviewBacklogAge.set(backlog.oldestPendingAt === undefined ? 0 : Math.max(0, (now - backlog.oldestPendingAt) / 1000));
      },
      drop() {
        metrics.reviewBacklog.reset();
        metrics.reviewBacklogAge.remove();
      },
    },
    // Redis runs with noeviction (a job evicted is a record lost): once its memory reaches
    // maxmemory every write fails. An alert rule watches the two against each other. (INFO is
    // never denied to the pipeline: ioredis's ready check and BullMQ need it.)
    redis_memory: {
      async read() {
        const info = await deps.redis.info('memory');
        const used = infoNumber(info, 'used_memory');
        if (used === undefined) throw new Error('INFO memory holds no used_memory');
        metrics.redisMemoryUsed.set(used);
        // Some Redis-compatible servers leave maxmemory out: no limit series then (the alert
        // cannot fire), rather than a read that fails for ever and hides the memory used too.
        const max = infoNumber(info, 'maxmemory');
        if (max === undefined) metrics.redisMemoryMax.remove();
        else metrics.redisMemoryMax.set(max);
      },
      drop() {
        metrics.redisMemoryUsed.remove();
        metrics.redisMemoryMax.remove();
      },
    },
    // The counters from the event stream have no read to fail at scrape time: the age of the oldest
    // event not read yet says whether they are current (an ACL without XREAD left them frozen while
    // every other source read fine).
    event_stream: {
      async read() {
        const position = deps.eventStream.readThrough();
        if (position === undefined) throw new Error("not reading the queue's event stream yet (its resume point is not read: Redis down?)");
        // Not a stream id: how far behind it is cannot be told, and a 0 would read as caught up.
        const positionAt = streamIdTime(position);
        if (positionAt === undefined) throw new Error(`the read position of the queue's event stream is not a stream id (${position}): how far behind it is is unknown`);
        // The oldest event not read yet, against Redis's clock, which numbered it.
        const events = deps.queue.toKey('events');
        const [[first], [unread], [seconds, micros]] = await Promise.all([
          deps.redis.xrange(events, '-', '+', 'COUNT', 1),
          deps.redis.xrange(events, `(${position}`, '+', 'COUNT', 1),
          deps.redis.time(),
        ]);
        if (unread === undefined) {
          behindSince = undefined;
          return void metrics.eventsLag.set(0);
        }
        if (behindSince?.position !== position) behindSince = { position, at: performance.now() };
        const now = Number(seconds) * 1000 + Number(micros) / 1000;
        let unreadAt = streamIdTime(unread[0]) ?? now;
        // Nothing up to the position is left: the stream (capped) may have trimmed the events right
        // after it unread, and the oldest unread one came after the position itself, or, from '0-0',
        // after reading began. Taken from the first entry left, the lag of an exporter that cannot
        // read would never pass the stream's span, which under load (100,000 events last some 25 s
        // at 1,000 jobs/s) stays below GradcamExporterEventsBehind's threshold.
        if (unread[0] === first?.[0]) {
          const readingSince = deps.eventStream.readingSince();
          if (positionAt > 0) unreadAt = positionAt;
          else if (readingSince !== undefined && (await droppedEntries(deps.redis, events))) unreadAt = Math.min(unreadAt, readingSince);
        }
        // Entry ids are the clock of Redis that numbered them, which never numbers below its last id:
        // after that clock stepped back, the new entries carry the last id's time until the clock
        // passes it again, and an age taken from them reads 0 however long they wait. The time this
        // exporter has seen the same position with events unread after it is a lower bound that no
        // clock step moves.
        const stalledFor = (performance.now() - behindSince.at) / 1000;
        metrics.eventsLag.set(Math.max(0, (now - unreadAt) / 1000, stalledFor));
      },
      drop: () => metrics.eventsLag.remove(),
    },
    // Distinct live weights per model version (the workers' model-weights-beat.ts): above 1, one
    // version's explanations come from different models (alert GradcamModelWeightsDiffer).
    model_weights: {
      async read(now) {
        const members = await deps.redis.zrangebyscore(keys.liveModelWeights, now - (deps.modelLivenessExpiryMs ?? modelLiveness.expiryMs), '+inf');
        const versions = new Map<string, { model: string; version: string; weights: Set<string> }>();
        for (const member of members) {
          const parsed = parseLiveModelWeightsMember(member);
          if (parsed === undefined) continue;
          const id = `${parsed.model}@${parsed.version}`;
          const entry = versions.get(id) ?? { model: parsed.model, version: parsed.version, weights: new Set<string>() };
          entry.weights.add(parsed.weightsSha256);
          versions.set(id, entry);
        }
        metrics.modelWeightsVariants.reset();
        for (const { model, version, weights } of versions.values()) metrics.modelWeightsVariants.set({ model, version }, weights.size);
      },
      drop: () => metrics.modelWeightsVariants.reset(),
    },
    exporters: {
      async read(now) {
        metrics.exporterInstances.set(await deps.presence.count(now));
      },
      drop: () => metrics.exporterInstances.remove(),
    },
    review_verdicts: {
      async read() {
        const [verdicts, undos, skips, broken] = await Promise.all([
          deps.redis.hgetall(keys.reviewVerdicts),
          deps.redis.hgetall(keys.reviewUndos),
          deps.redis.hgetall(keys.reviewSkips),
          deps.redis.hgetall(keys.reviewBroken),
        ]);
        republish(metrics.reviewVerdicts, ['model', 'class', 'verdict'], verdicts);
        republish(metrics.reviewUndos, ['model', 'class', 'verdict'], undos);
        republish(metrics.reviewSkips, ['model'], skips);
        republish(metrics.reviewBroken, ['model'], broken);
      },
      drop() {
        metrics.reviewVerdicts.reset();
        metrics.reviewUndos.reset();
        metrics.reviewSkips.reset();
        metrics.reviewBroken.reset();
      },
    },
  };

  /** Never rejects: a failed source is reported through `onSourceError` and its success gauge. */
  return async function collect(): Promise<void> {
    const now = Date.now();
    await Promise.all(
      collectSources.map(async (source) => {
        try {
          await sources[source].read(now);
          metrics.collectSuccess.set({ source }, 1);
        } catch (error) {
          sources[source].drop();
          metrics.collectSuccess.set({ source }, 0);
          deps.onSourceError(source, error);
        }
      }),
    );
  };
}
