import {
  type ReviewItem,
  type ReviewSampling,
  type ReviewTrafficLevel,
  formatReviewThreshold,
  formatReviewTrafficLevel,
  parseReviewThreshold,
  parseReviewTrafficLevel,
  redisKeys,
  reviewSamplingSchema,
  reviewTrafficLastTtlSeconds,
  reviewTrafficLevelTtlSeconds,
} from '@gradcam/contracts';
import { redisOutOfMemory } from '@gradcam/queue';
import type { ReviewPool } from '@gradcam/review-pool';
import { type PresumedTrafficRate, type ReviewInput, decideReview, parseReviewPolicy } from '@gradcam/sampling';
import type { Redis } from 'ioredis';
import { fleetTraffic, minutesSinceSilence, trafficMinutes, trafficSpan } from './fleet-traffic.ts';

export { ratePerHour } from './fleet-traffic.ts';

const minuteMs = 60_000;
const hourMs = 3_600_000;
/** This process's events (current and previous minute) below which the fleet's count over them is noise. */
const fleetOverOwnMinEvents = 5;
/**
 * Fewer fleet events than this in the window (its whole minutes and the current one): a sparse
 * model, read by the fleet's quiet spell (see `trafficRate`). From 5, the whole minutes read it
 * as they always did: (1 + 4) per window is 30/h, as 5 in 10 minutes are.
 */
const sparseMaxEvents = 5;
/** ln of the chance below which a young fleet's events are traffic starting, not a sparse model's few. */
const logSparseImplausible = Math.log(1e-3);

/**
 * The fleet's count of a model in the minute of its latest reading and the one before, with each
 * minute's first event (reviewTrafficFirst) and the fleet's latest event: what a young fleet's
 * rate is read from (see `youngReading`). Updated by each refresh and each count this process makes.
 */
interface YoungCounts {
  minute: number;
  count: number;
  first: number;
  prevCount: number;
  prevFirst: number;
  latest: number;
}

/**
 * A young fleet's rate, events/h: its events after the first of the two minutes, over the time
 * from that first to the latest. The time to the n-th event after a start is Gamma(n, λ)
 * distributed, so (time)/(n) averages 1/λ and the shares K·time/n add up to K from the second
 * event on, without a minimum count. Undefined with fewer than 2 events, or when `at` is past the
 * minute after the reading's.
 */
function youngReading(counts: YoungCounts, at: number): { readonly events: number; readonly spanMs: number; readonly perHour: number } | undefined {
  if (Math.floor(at / minuteMs) > counts.minute + 1) return undefined;
  const events = counts.count + counts.prevCount;
  const start = counts.prevCount > 0 ? counts.prevFirst : counts.first;
  const spanMs = counts.latest - start;
  if (!(events >= 2 && spanMs > 0)) return undefined;
  return { events: events - 1, spanMs, perHour: ((events - 1) / spanMs) * hourMs };
}

export interface ReviewSampler {
  /**
   * Decisions already recorded for these inferences by an earlier attempt of their jobs (a retry,
   * or a job recovered from a worker that died): a job keeps its first decision. Reads the fleet's
   * traffic of `models` (those the decisions to come are for) first where this process has not yet.
   */
  earlier(inferenceIds: readonly string[], models?: readonly string[]): Promise<Map<string, ReviewSampling>>;
  decide(input: ReviewInput): ReviewSampling;
  /**
   * Keeps `decision` on the job unless a decision is there already, and returns the one kept: the
   * winning decision, which both the manifest and the review pool must use. Two runs of one job
   * (a stalled job taken over while its first run goes on) each decide with their own process's
   * budget state; whichever claims first decides for both. Call it before the manifest is built.
   * Without a job hash (no BullMQ job to keep it on) the decision is returned as it is.
   */
  claim(inferenceId: string, decision: ReviewSampling): Promise<ReviewSampling>;
  /**
   * The fleet-wide traffic of a model, events/h (asking registers the model for the refreshes): the
   * last whole minutes' or, while traffic comes back after a silence, the level it last flowed at
   * (fleet-traffic.ts); undefined when there is neither.
   */
  fleetRate(model: string): number | undefined;
  /** The same for one predicted class of the model (asking registers the model too). */
  fleetClassRate(model: string, classIndex: number): number | undefined;
  /** The threshold a model's budget last recorded, from any worker; undefined when none has. */
  fleetThreshold(model: string): number | undefined;
  /** Reads the fleet-wide traffic and thresholds from Redis now (a timer does so every 10 s). */
  refreshFleetRate(): Promise<void>;
  /**
   * After the manifest is stored: claim the decision (as `claim`), count the decision kept and the
   * traffic, queue the item when the decision kept is sampled. Each job is counted once, however
   * often it runs, and what is queued is what the job keeps, whichever run gets here. One round
   * trip (claim and count in one script) unless the job keeps a decision other than `decision`.
   */
  recorded(decision: ReviewSampling, item: ReviewItem): Promise<void>;
  close(): void;
}

/** Whether `events` within `spanMs` are implausible (Poisson chance below 1/1000) for traffic at `perHour`. */
function implausibleAt(perHour: number, events: number, spanMs: number): boolean {
  const mean = (perHour / hourMs) * spanMs;
  // mean^events / events! bounds the chance of ≥ events from above (it is that term × e^mean).
  let logChance = events * Math.log(mean);
  for (let i = 2; i <= events; i++) logChance -= Math.log(i);
  return logChance < logSparseImplausible;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** The job hash field that holds the decision (BullMQ ignores fields it does not know). */
const decisionField = 'gradcam:review';
/**
 * Set with the decision by the run that claims it, deleted by the first run that counts it: the
 * claim comes before the manifest, the count after, and a run can die in between. A decision on
 * the job without this field was counted when it was kept (workers before the claim did both at once).
 */
const uncountedField = 'gradcam:review-uncounted';

/**
 * Keeps the decision (ARGV[1]) on the job (KEYS[1]) unless one is there; returns the one kept.
 * A job hash that does not exist is not created: it is BullMQ's key (nil is returned).
 */
const claimOnce = `
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
if redis.call('HSETNX', KEYS[1], '${decisionField}', ARGV[1]) == 1 then
  redis.call('HSET', KEYS[1], '${uncountedField}', '1')
  return ARGV[1]
end
return redis.call('HGET', KEYS[1], '${decisionField}')
`;

/**
 * `claimOnce` and the count in one round trip, after the manifest: keeps the decision (ARGV[1]) on
 * the job (KEYS[1]) unless one is there, and counts the decision kept unless a run already did.
 * Returns { state, decision kept, the minute's count, its first event } (nil for the decision
 * without a job hash; the last two only when counted), state being
 * 'counted'; 'done' (counted before, by this run's retry or another run); or 'other': the job
 * keeps another decision, not counted, since the counts name the decision and its threshold and
 * formatting them from JSON here would duplicate (and round differently from) the worker's; the
 * caller counts that one with ARGV[2] = '1' (count whichever decision is given: one the job
 * keeps, or this run's where it cannot read the one kept). Rare: the run records what it claimed.
 * A job hash that does not exist is not created (only counted): it is BullMQ's key.
 * KEYS: job, traffic, decisions, thresholds, class traffic, latest event, the minute's first event. ARGV: decision, count
 * anyway, traffic TTL s, decision field, model, threshold field ('' for none: the model's field is
 * deleted, so a policy replaced by one without a budget leaves no old threshold behind; '-' to
 * leave it as it is, a young histogram's threshold being no one's to follow), predicted class,
 * event time (epoch ms, kept as the latest event where later), latest event TTL s.
 */
const recordOnce = `
local kept = false
if redis.call('EXISTS', KEYS[1]) == 1 then
  kept = ARGV[1]
  if redis.call('HSETNX', KEYS[1], '${decisionField}', ARGV[1]) == 0 then
    kept = redis.call('HGET', KEYS[1], '${decisionField}')
    if redis.call('HEXISTS', KEYS[1], '${uncountedField}') == 0 then return {'done', kept} end
    if kept ~= ARGV[1] and ARGV[2] ~= '1' then return {'other', kept} end
    redis.call('HDEL', KEYS[1], '${uncountedField}')
  end
end
local count = redis.call('INCR', KEYS[2])
redis.call('EXPIRE', KEYS[2], ARGV[3])
redis.call('HINCRBY', KEYS[5], ARGV[7], 1)
redis.call('EXPIRE', KEYS[5], ARGV[3])
redis.call('HINCRBY', KEYS[3], ARGV[4], 1)
if ARGV[6] == '' then redis.call('HDEL', KEYS[4], ARGV[5]) elseif ARGV[6] ~= '-' then redis.call('HSET', KEYS[4], ARGV[5], ARGV[6]) end
local latest = tonumber(redis.call('GET', KEYS[6]))
if latest == nil or latest < tonumber(ARGV[8]) then redis.call('SET', KEYS[6], ARGV[8], 'EX', ARGV[9]) end
local first = redis.call('GET', KEYS[7])
if not first or tonumber(first) > tonumber(ARGV[8]) then
  first = ARGV[8]
  redis.call('SET', KEYS[7], first, 'EX', ARGV[3])
end
return {'counted', kept, count, first}
`;

/**
 * Reviewer sampling inside a worker process. Every worker sees only its share of the traffic,
 * so the budget policy adapts to the fleet-wide rate: each stored explanation is counted per
 * model (and predicted class) and minute in Redis, and the sum of the last minutes, refreshed in
 * the background, is the rate the policy divides its budget by (and the class quota its N).
 */
export function createReviewSampler(options: {
  policy: string;
  redis: Redis;
  prefix: string;
  pool: ReviewPool;
  /** Epoch ms; tests move it. */
  now?: () => number;
}): ReviewSampler {
  const { redis, pool } = options;
  const now = options.now ?? Date.now;
  const keys = redisKeys(options.prefix);
  /** Events/h per model the policy asked about (0: none known), and per class of it. */
  const fleetRate = new Map<string, number>();
  /** Models whose fleet rate is the level their traffic last flowed at (fleet-traffic.ts): a presumption, not a count. */
  const presumed = new Set<string>();
  const classRates = new Map<string, Map<number, number>>();
  /** Per model: each class's share of the traffic in the last window this process read without the level. */
  const classShares = new Map<string, Map<number, number>>();
  /** Per model: the events this process recorded in the current and the previous minute (minute → count). */
  const ownCounts = new Map<string, Map<number, number>>();
  /**
   * Per model, while the fleet's whole minutes hold at most one minute of traffic and no level
   * stands for it: the fleet's events over this process's in the current and the previous minute,
   * by which this process's own estimate is scaled to the fleet's (see `trafficRate`).
   */
  const fleetOverOwn = new Map<string, number>();
  /**
   * Per model, while the fleet's window (its whole minutes and the current one, at the last
   * refresh) holds fewer than `sparseMaxEvents` events and no level stands for it: those events,
   * when the window began (epoch ms) and the fleet's latest event (reviewTrafficLast). See `trafficRate`.
   */
  const sparse = new Map<string, { readonly events: number; readonly from: number; readonly latest: number }>();
  /**
   * Models whose fleet is young at the last refresh: its whole minutes hold at most one minute of
   * traffic and no level stands for it (a fleet starting together, or a model new to it), read by
   * `youngReading` of `youngCounts` where it has one.
   */
  const young = new Set<string>();
  const youngCounts = new Map<string, YoungCounts>();
  /** Per model: the events this process counted since the last refresh began (`since`), and its latest. */
  const ownSinceRefresh = new Map<string, { since: number; events: number; latest: number }>();
  /** The threshold each model's budget last recorded, from any worker (reviewThresholds). */
  let fleetThresholds = new Map<string, number>();
  /**
   * Stores the level `fleetTraffic` made of the `stored` one, when it changed. The only write of a
   * refresh, and no reason to stop one: refused for want of memory (Redis at maxmemory, which still
   * answers reads), the stored level stays as it was and a later refresh tries again, while the
   * rates go on being read. Any other error fails the refresh, as a failed read does.
   */
  const storeLevel = async (model: string, stored: ReviewTrafficLevel | undefined, level: ReviewTrafficLevel | undefined): Promise<void> => {
    if (level === undefined ? stored === undefined : level.minute === stored?.minute) return;
    const key = keys.reviewTrafficLevel(model);
    try {
      if (level === undefined) await redis.del(key);
      else await redis.set(key, formatReviewTrafficLevel(level), 'EX', reviewTrafficLevelTtlSeconds);
    } catch (error) {
      if (!redisOutOfMemory(error)) throw error;
    }
  };
  const refresh = async () => {
    const thresholds = await redis.hgetall(keys.reviewThresholds);
    // A stale one (a retired model's, or one recorded before the policy changed) is no fleet's.
    const at = now();
    fleetThresholds = new Map(
      Object.entries(thresholds)
        .map(([model, field]) => [model, parseReviewThreshold(field, at)] as const)
        .filter((entry): entry is readonly [string, number] => entry[1] !== undefined),
    );
    const minute = Math.floor(now() / minuteMs);
    for (const model of fleetRate.keys()) {
      // The current minute is partial: use the previous whole minutes.
      const minutes = Array.from({ length: trafficMinutes }, (_, i) => minute - 1 - i);
      const read = redis.pipeline();
      read.mget(minutes.map((m) => keys.reviewTraffic(model, m)));
      read.get(keys.reviewTrafficLevel(model));
      for (const m of minutes) read.hgetall(keys.reviewClassTraffic(model, m));
      read.get(keys.reviewTraffic(model, minute));
      read.get(keys.reviewTrafficLast(model));
      read.get(keys.reviewTrafficFirst(model, minute));
      read.get(keys.reviewTrafficFirst(model, minute - 1));
      const replies = (await read.exec()) ?? [];
      for (const [error] of replies) if (error) throw error;
      const counts = ((replies[0]?.[1] ?? []) as (string | null)[]).map((c) => Number(c ?? 0));
      // Across a silence of the whole window, the level the fleet last flowed at, kept in Redis so
      // that a worker started during the silence has it too (fleet-traffic.ts). Written by the
      // first refresh of each minute that finds it out of date; forgotten for every worker at once.
      const stored = parseReviewTrafficLevel(replies[1]?.[1] as string | null);
      const traffic = fleetTraffic(counts, minute - 1, stored);
      // A pause shorter than the window, still on in the whole minutes (a silence at the level,
      // the traffic from before it behind): the window's figure is that of the traffic before it,
      // thinned by the silence, and the only events that come are traffic coming back (in the
      // current minute), for which the level stands, as across a silence of the whole window.
      // Read over the window, they were a fraction of themselves until each worker's step guard
      // saw 20 of its own: 16 workers back from a pause of 9 minutes at K = 120/h reviewed 7-15 in
      // the 2 minutes after where K allows 4 (review-sampler-fleet.test.ts).
      const silent = traffic.level !== undefined && minutesSinceSilence(counts, traffic.level) === 0;
      const held = traffic.held || silent;
      // 0 after a silence with no level (a sparse model, or one not seen for a day): the policy
      // goes back to its own estimate.
      fleetRate.set(model, silent && traffic.level !== undefined ? traffic.level.perHour : traffic.perHour);
      if (held) presumed.add(model);
      else presumed.delete(model);
      // A fleet just started (or a model new to it) has no whole minute of traffic, then one that
      // holds only the part after it started: each worker read its part as the fleet's rate (a
      // share P times the fleet's), then the first minute as a whole one. The current minute's
      // count, partial as it is, is the fleet's over the same time as this process's own count.
      const own = ownCounts.get(model);
      if (own) for (const m of own.keys()) if (m < minute - 1) own.delete(m);
      const ownEvents = (own?.get(minute) ?? 0) + (own?.get(minute - 1) ?? 0);
      const fleetEvents = Number(replies[2 + minutes.length]?.[1] ?? 0) + (counts[0] as number);
      if (trafficSpan(counts) <= 1 && !held && ownEvents >= fleetOverOwnMinEvents && fleetEvents >= ownEvents) fleetOverOwn.set(model, fleetEvents / ownEvents);
      else fleetOverOwn.delete(model);
      // A sparse model: the fleet's events in the window and its latest, read with the others.
      const windowEvents = counts.reduce((sum, c) => sum + c, 0) + Number(replies[2 + minutes.length]?.[1] ?? 0);
      const latest = Number(replies[3 + minutes.length]?.[1] ?? Number.NaN);
      if (!held && !fleetOverOwn.has(model) && windowEvents < sparseMaxEvents && Number.isFinite(latest)) {
        sparse.set(model, { events: windowEvents, from: (minute - trafficMinutes) * minuteMs, latest });
      } else sparse.delete(model);
      // A young fleet: its count in this minute and the last, and their first events.
      if (trafficSpan(counts) <= 1 && !held) young.add(model);
      else young.delete(model);
      youngCounts.set(model, {
        minute,
        count: Number(replies[2 + minutes.length]?.[1] ?? 0),
        first: Number(replies[4 + minutes.length]?.[1] ?? Number.NaN),
        prevCount: counts[0] as number,
        prevFirst: Number(replies[5 + minutes.length]?.[1] ?? Number.NaN),
        latest: Number.isFinite(latest) ? latest : Number.NEGATIVE_INFINITY,
      });
      ownSinceRefresh.set(model, { since: at, events: 0, latest: Number.NEGATIVE_INFINITY });
      await storeLevel(model, stored, traffic.level);
      // A class's count over the model's span, not its own: one event of a rare class in the last
      // minute of ten is 6/h, not 60/h. Read from the minutes the model's figure is: after a pause
      // shorter than the window, those since the silence, and while the level stands for the
      // model, the level at each class's share of the window. Over the whole span, silence
      // included, each class read as a tenth to two thirds of itself for the 10 minutes the
      // silence stays in the window, and the class quota over-granted every class as much: 16
      // workers at budget=120,class-quota=24/h reviewed 48 by the quota in the 6 minutes after a
      // 9-minute pause where N allows 12 (review-sampler-fleet.test.ts).
      const classMinutes = traffic.sinceSilence ?? minutes.length;
      const span = trafficSpan(counts.slice(0, classMinutes));
      const perClass = new Map<number, number>();
      let classTotal = 0;
      replies.slice(2, 2 + classMinutes).forEach(([, hash]) => {
        for (const [field, value] of Object.entries((hash ?? {}) as Record<string, string>)) {
          const classIndex = Number(field);
          perClass.set(classIndex, (perClass.get(classIndex) ?? 0) + Number(value));
          classTotal += Number(value);
        }
      });
      const windowShares = () => new Map(Array.from(perClass, ([classIndex, total]) => [classIndex, total / classTotal]));
      if (!held && classTotal > 0) classShares.set(model, windowShares());
      if (held) {
        // Each class at its share of the traffic last read without the level: a window held by
        // it has no mix of its own (a pause longer than the window: none at all; a sliver of the
        // traffic before a pause, where a rare class may have no event). With no figure, each
        // worker's class quota fell back on its own count, a part P times smaller than the
        // fleet's: 16 workers at budget=120,class-quota=24/h reviewed 172-184 by the quota in the
        // 6 minutes after a 15-minute pause where N allows 12. A worker started during the
        // silence has only the window's mix, where there is one.
        const level = fleetRate.get(model) ?? 0;
        const shares = classShares.get(model) ?? (classTotal > 0 ? windowShares() : new Map<number, number>());
        classRates.set(model, new Map(Array.from(shares, ([classIndex, share]) => [classIndex, share * level])));
      } else {
        for (const [classIndex, total] of perClass) perClass.set(classIndex, span === 0 ? 0 : (total / span) * 60);
        classRates.set(model, perClass);
      }
    }
  };
  const timer = setInterval(() => void refresh().catch(() => undefined), 10_000);
  timer.unref();
  // At once too: a process that starts into a running fleet takes the fleet's thresholds before
  // its first batch, instead of placing its own from a handful of priorities.
  void refresh().catch(() => undefined);
  /** Takes the fleet's count of `model`'s minute of `at` and its first event, as this process's count of an event returned them. */
  const countedYoung = (model: string, at: number, count: number, first: number): void => {
    if (!Number.isFinite(count) || !Number.isFinite(first)) return;
    const minute = Math.floor(at / minuteMs);
    const counts = youngCounts.get(model);
    if (counts === undefined || minute > counts.minute + 1) {
      youngCounts.set(model, { minute, count, first, prevCount: 0, prevFirst: Number.NaN, latest: at });
      return;
    }
    counts.latest = Math.max(counts.latest, at);
    if (minute === counts.minute + 1) {
      counts.prevCount = counts.count;
      counts.prevFirst = counts.first;
      counts.minute = minute;
      counts.count = count;
      counts.first = first;
    } else if (minute === counts.minute) {
      counts.count = Math.max(counts.count, count);
      counts.first = Number.isFinite(counts.first) ? Math.min(counts.first, first) : first;
    } else if (minute === counts.minute - 1) {
      counts.prevCount = Math.max(counts.prevCount, count);
      counts.prevFirst = Number.isFinite(counts.prevFirst) ? Math.min(counts.prevFirst, first) : first;
    }
  };
  const fleetRateOf = (model: string): number | undefined => {
    if (!fleetRate.has(model)) fleetRate.set(model, 0);
    const rate = fleetRate.get(model);
    // No fleet figure (a fresh deployment, or none in the last minutes and no level kept): the policy falls back on its own estimate.
    return rate === undefined || rate === 0 ? undefined : rate;
  };
  // A presumed level goes to the budget as one: it reads it as the rate now, no less than its own
  // count (traffic back above the level, a single worker back at 10× its old level, is read by
  // its own count as it comes), and without the step guard, which corrects a window's average.
  const trafficRate = (model: string, at: number): number | PresumedTrafficRate | undefined => {
    const rate = fleetRateOf(model);
    // A sparse model (a few events an hour): (1 + the fleet's events in the window) over the
    // window, or over the fleet's quiet spell since its latest event where that is longer (at most
    // a day, the key's life). Its inverse averages 1/rate for Poisson traffic, so the shares add
    // up to K. The whole minutes read one event k minutes back as 60/k per hour and an empty window
    // as no figure, each worker then falling back on its own estimate, which cannot see the
    // fleet's spell (its own is about P times as long: a share up to P times K's): a model
    // with 4 events/h at K = 1/h was given about half of K, by 1 worker or 4 alike. Presumed: no
    // window's average for the step guard to correct, and the budget takes this process's own
    // estimate where higher, so a fresh fleet's first events, which find the latest-event key
    // before the window holds 5 (a brand-new model's), are read by their own count as before.
    // A young fleet (a fleet starting together, or a model new to it; see `youngReading`): its
    // events after its first over the time since, where its whole minutes cannot read it yet.
    // Each young process read its own first events as one per 30 s (its window's first bucket),
    // the n-th as n per 30 s, whatever the fleet: a share of K/(120·n) each, (K/120)·H(n) in all,
    // so 16 workers starting together at K = 120/h reviewed 39-41 in their first 10 s where K
    // allows 0.3 (review-sampler-fleet.test.ts). A sparse model's few events are read as one:
    // the young reading stands where its events are implausible (below 1/1000) at the sparse
    // reading's rate.
    const youngRate = young.has(model) ? youngCounts.get(model) : undefined;
    const reading = youngRate && youngReading(youngRate, at);
    const few = sparse.get(model);
    let sparsePerHour: number | undefined;
    if (few !== undefined) {
      const own = ownSinceRefresh.get(model);
      const events = few.events + (own?.events ?? 0);
      const latest = Math.max(few.latest, own?.latest ?? Number.NEGATIVE_INFINITY);
      const covered = Math.max(at - few.from, Math.min(at - latest, reviewTrafficLastTtlSeconds * 1000));
      if (covered > 0) sparsePerHour = ((1 + events) / covered) * hourMs;
    }
    if (reading !== undefined && (sparsePerHour === undefined || implausibleAt(sparsePerHour, reading.events, reading.spanMs))) return { presumedPerHour: reading.perHour };
    if (sparsePerHour !== undefined) return { presumedPerHour: sparsePerHour };
    // While the fleet's minutes hold at most one minute of traffic: this process's own estimate
    // times the fleet's count over its own, where higher than the minute's (which may hold only
    // part of a minute of traffic). Presumed: the own estimate carries the step guard already.
    const times = fleetOverOwn.get(model);
    const scaled = reading !== undefined || times === undefined ? 0 : times * (policy.localRate?.(model, at) ?? 0);
    if (scaled > 0 && !(rate !== undefined && rate >= scaled)) return { presumedPerHour: scaled };
    return rate !== undefined && presumed.has(model) ? { presumedPerHour: rate } : rate;
  };
  const classTraffic = (model: string, classIndex: number): number | undefined => {
    if (!fleetRate.has(model)) fleetRate.set(model, 0);
    const rate = classRates.get(model)?.get(classIndex);
    return rate === undefined || rate === 0 ? undefined : rate;
  };
  const fleetThreshold = (model: string): number | undefined => fleetThresholds.get(model);
  const policy = parseReviewPolicy(options.policy, { trafficRate, classTraffic, fleetThreshold });
  /** The decision a job keeps (`raw`, as stored), or `own` where it is this one or one this worker cannot read. */
  const keptDecision = (raw: unknown, own: ReviewSampling): ReviewSampling => {
    if (typeof raw !== 'string' || raw === JSON.stringify(own)) return own;
    // One this worker cannot read (another version wrote it) is left there, and this run's used,
    // as `earlier` has it decided again.
    const parsed = reviewSamplingSchema.safeParse(parseJson(raw));
    return parsed.success ? parsed.data : own;
  };
  const claim = async (inferenceId: string, decision: ReviewSampling): Promise<ReviewSampling> =>
    keptDecision(await redis.eval(claimOnce, 1, keys.explainJob(inferenceId), JSON.stringify(decision)), decision);
  /**
   * The threshold published for the fleet with a decision that has one: this process's own, not
   * the one in force. A young process raises its own to the fleet's (budget.ts); published, that
   * rise passed from worker to worker and the fleet's threshold only ever went up while its
   * workers were young: the highest priority the fleet had seen, not the budget's quantile
   * (8 workers, 36,000 events/h, K = 120/h: no review from minute 1 to 22; 48 workers: 0.16 × K
   * for two hours). And only once its histogram places it (`ownThresholdPlaced`): a young one's
   * is as noisy as the young process's own it would raise, and a fleet of young processes each
   * taking the higher of its own and another's reviewed about half of K (16 workers at
   * K = 10/h, for the 8 hours they stay young). 'keep' leaves the fleet's as it is. The
   * decision's own where the policy has not placed one for the model (a decision kept from
   * another process).
   */
  const published = (decision: ReviewSampling, model: string): number | 'keep' | undefined => {
    if (decision.threshold === undefined) return undefined;
    const own = policy.ownThreshold?.(model);
    if (own === undefined) return decision.threshold;
    return policy.ownThresholdPlaced?.(model) === false ? 'keep' : own;
  };
  /** Runs `recordOnce` for `decision`; see there for the reply. */
  const record = async (decision: ReviewSampling, item: ReviewItem, anyway: boolean): Promise<readonly [string, unknown, unknown?, unknown?]> => {
    const minute = Math.floor(item.sampledAt / minuteMs);
    const threshold = published(decision, item.model);
    return (await redis.eval(
      recordOnce,
      7,
      keys.explainJob(item.inferenceId),
      keys.reviewTraffic(item.model, minute),
      keys.reviewDecisions,
      keys.reviewThresholds,
      keys.reviewClassTraffic(item.model, minute),
      keys.reviewTrafficLast(item.model),
      keys.reviewTrafficFirst(item.model, minute),
      JSON.stringify(decision),
      anyway ? '1' : '',
      (trafficMinutes + 2) * 60,
      `${item.model}|${decision.sampled ? 'review' : 'skip'}|${decision.reason}`,
      item.model,
      threshold === undefined ? '' : threshold === 'keep' ? '-' : formatReviewThreshold(threshold, now()),
      String(item.predictedClass),
      String(item.sampledAt),
      reviewTrafficLastTtlSeconds,
    )) as [string, unknown, unknown?, unknown?];
  };
  return {
    fleetRate: fleetRateOf,
    fleetClassRate: classTraffic,
    fleetThreshold,
    refreshFleetRate: refresh,
    claim,
    async earlier(inferenceIds, models = []) {
      // A model this process has not read yet is read now, before its first decisions: a fleet
      // starting together (or a model new to it) is then read by its count so far, and a process
      // starting into a running fleet by the fleet's rate, not by its own first events.
      const unread = models.filter((model) => !fleetRate.has(model));
      if (unread.length > 0) {
        for (const model of unread) fleetRate.set(model, 0);
        await refresh();
      }
      const found = new Map<string, ReviewSampling>();
      if (inferenceIds.length === 0) return found;
      const read = redis.pipeline();
      for (const id of inferenceIds) read.hget(keys.explainJob(id), decisionField);
      const replies = (await read.exec()) ?? [];
      inferenceIds.forEach((id, i) => {
        const [error, raw] = replies[i] ?? [];
        if (error) throw error;
        if (typeof raw !== 'string') return;
        // A field this worker cannot read (another version wrote it) is decided again.
        const parsed = reviewSamplingSchema.safeParse(parseJson(raw));
        if (parsed.success) found.set(id, parsed.data);
      });
      return found;
    },
    decide: (input) => decideReview(policy, input),
    async recorded(decision, item) {
      // Claimed again, in the same script as the count (one round trip; a no-op claim for the run
      // that claimed before its manifest): a run that did not claim, or lost, counts and queues the
      // decision the job keeps, not its own. Its own "sampled" queued an item the job's decision
      // said was not, and the other way round.
      const [state, raw, count, first] = await record(decision, item, false);
      if (state === 'counted') countedYoung(item.model, item.sampledAt, Number(count), Number(first));
      // Counted as the fleet counts it: once per job, by the run that counts it.
      if (state !== 'done') {
        const minute = Math.floor(item.sampledAt / minuteMs);
        const own = ownCounts.get(item.model) ?? new Map<number, number>();
        own.set(minute, (own.get(minute) ?? 0) + 1);
        // Trimmed here too, as refresh trims before it reads: a model refresh never reads (a job of
        // one this worker does not serve, finished on the resume path) would keep a minute each.
        const current = Math.floor(now() / minuteMs);
        for (const m of own.keys()) if (m < current - 1) own.delete(m);
        ownCounts.set(item.model, own);
        const since = ownSinceRefresh.get(item.model);
        if (since !== undefined && item.sampledAt >= since.since) {
          since.events += 1;
          since.latest = Math.max(since.latest, item.sampledAt);
        }
      }
      const kept = keptDecision(raw, decision);
      if (state === 'other') {
        const [, , otherCount, otherFirst] = await record(kept, item, true);
        countedYoung(item.model, item.sampledAt, Number(otherCount), Number(otherFirst));
      }
      // Idempotent (the item is added once), so a retry that failed after counting still queues it.
      if (kept.sampled) await pool.add(kept === decision ? item : { ...item, sampling: kept });
    },
    close: () => clearInterval(timer),
  };
}
