import { randomUUID } from 'node:crypto';
import { type ReviewItem, type ReviewShown, type Verdict, redisKeys } from '@gradcam/contracts';
import { QueueUnavailableError, redisCall, redisOutOfMemory } from '@gradcam/queue';
import type { Redis } from 'ioredis';
import { backlogScript, indexModelStepScript, indexPassSets, modelIndexAgreesScript, stampIndexedScript } from './backlog-script.ts';
import { addScript, leaseScript, reclaimScript, releaseScript, renewScript, restoreScript, setAsideScript } from './lease-script.ts';
import { PendingClears } from './pending-clears.ts';
import { defaultBaselineEvery, laneOf, laneOfStored, sortBatch, sortOldPoolScript } from './pool-order.ts';
import { ReviewPoolError } from './review-pool-error.ts';
import { removeScript } from './remove-script.ts';
import { parseItem, readItem, scriptItem, storedItem } from './stored-item.ts';
import { beginUndoScript, cancelUndoScript, finishUndoScript } from './undo-script.ts';
import { beginVerdictScript, cancelVerdictScript, finishVerdictScript } from './verdict-script.ts';

const notLeased = (id: string, reviewer: string) =>
  new ReviewPoolError('REVIEW_NOT_LEASED', `"${id}" is not leased to ${reviewer} (never leased, leased to someone else, or the lease expired): lease it again with GET /v1/reviews/next`);

/** The reviewer's verdict on the item was kept already, and the one sent differs from it (in verdict or comment). */
const alreadyJudged = (item: ReviewItem) =>
  new ReviewPoolError(
    'REVIEW_ALREADY_JUDGED',
    `${item.reviewer ?? 'this reviewer'}'s verdict on "${item.inferenceId}" is kept already: "${item.verdict ?? ''}"${item.reviewedAt === undefined ? '' : `, given at ${new Date(item.reviewedAt).toISOString()}`} (this one, which differs from it, changed nothing)`,
    item,
  );

const inProgress = (id: string) =>
  new ReviewPoolError('REVIEW_VERDICT_IN_PROGRESS', `a verdict on "${id}" (this one or another) is being saved right now; wait for its answer (send the verdict again if that one fails)`);

/** What `beginVerdict` found: a verdict to keep now (`begun`, the item holds its marker) or one kept already (`done`). */
export type BegunVerdict =
  | { readonly state: 'begun'; readonly item: ReviewItem & { closing: NonNullable<ReviewItem['closing']> } }
  | { readonly state: 'done'; readonly item: ReviewItem };

/**
 * An undo being saved (see beginUndo): set on the reviewed item until the undo is applied, the
 * write fails (cancelUndo) or the closing timeout passes. `decidedAt`: the undo's decision time
 * (epoch ms, the retraction's `retractedAt`); `at`: when the marker was set.
 */
export interface UndoMarker {
  readonly token: string;
  readonly decidedAt: number;
  readonly at: number;
}

/** What `beginUndo` found: the item as reviewed (the verdict being taken back) and the marker it now holds. */
export interface BegunUndo {
  readonly item: ReviewItem;
  readonly undoing: UndoMarker;
}

export interface ReviewListFilter {
  readonly status?: ReviewItem['status'];
  readonly model?: string;
  readonly verdict?: Verdict;
  /** Epoch ms, inclusive, on sampledAt. */
  readonly from?: number;
  readonly to?: number;
}

export interface ReviewBacklog {
  /** Waiting for a reviewer (items set aside as broken are not counted), of the model asked for or of all. */
  readonly pending: number;
  readonly leased: number;
  /** sampledAt of the oldest pending item, epoch ms. */
  readonly oldestPendingAt: number | undefined;
}

/** A skipped item stays away from its skipper for a week: long enough for someone else to take it. */
export const defaultSkipMemoryMs = 7 * 24 * 3600 * 1000;

/**
 * How long a verdict being kept blocks its item (no other verdict, release, skip or lease), and an
 * undo being saved blocks other undos of it. It must outlast any review.json write a live request
 * can still land, or a stalled write could overwrite one made after its marker stopped blocking:
 * the S3 store gives up on a put after 3 attempts of at most 2 s connecting and 5 s of silence
 * each, plus the SDK's backoff (well under a second at these attempt counts), about 22 s in all
 * (review.json is a few KiB, sent at once, so the silence limit bounds its whole exchange); the
 * filesystem store writes a local file. Only a request that died leaves a marker this old, and
 * then the item goes back to the pool (a verdict) or may be undone again (an undo).
 */
export const defaultClosingTimeoutMs = 60_000;

/** How long a reviewed or broken item stays in Redis (listings, exports) by default: 90 days. */
export const defaultRetentionMs = 90 * 24 * 3600 * 1000;

/**
 * How old a model's last full indexing of its pending items by age may grow before the next
 * backlog or pending listing of that model indexes it again (backlog-script.ts), by default. The
 * index is checked against the model's pool by count, and counts agree across some drift: a
 * replica of a version before the index that leases one item of the model while a worker of that
 * version adds another leaves one entry too many and one too few, and the added item was left
 * out of the model's pending listing for ever (and its age out of the model's oldest). An hour
 * bounds any drift, whatever its cause, without an operator; indexing costs about 1.8 s of short
 * scripts per 200,000 items of the model (500 entries each, so Redis is never blocked for long).
 */
export const defaultReindexIntervalMs = 60 * 60_000;

/** How many steps of indexModelStepScript one indexing takes per set at most (a million items). */
const maxIndexSteps = 2_000;

/**
 * A rejection handler: `instead` when Redis refused the call for want of memory (redisOutOfMemory),
 * the error again otherwise. For writes that only look after an index, which a read can do without.
 */
const whenOutOfMemory =
  <T>(instead: () => T) =>
  (error: unknown): T => {
    if (!redisOutOfMemory(error)) throw error;
    return instead();
  };

/** [member, score, member, score, …] (a WITHSCORES reply) as [member, score] pairs. */
function pairs(reply: string[]): [string, number][] {
  const out: [string, number][] = [];
  for (let i = 0; i + 1 < reply.length; i += 2) out.push([reply[i]!, Number(reply[i + 1])]);
  return out;
}

/** Where a listing page stopped: the last item it read. */
export interface ReviewCursor {
  readonly sampledAt: number;
  readonly id: string;
}

const cursorPattern = /^(-?\d{1,16}):([A-Za-z0-9_-]{1,128})$/;

/** `sampledAt:id`; clients pass it back unchanged as `cursor`. */
export const formatReviewCursor = ({ sampledAt, id }: ReviewCursor): string => `${sampledAt}:${id}`;

export function parseReviewCursor(text: string): ReviewCursor {
  const match = cursorPattern.exec(text);
  if (!match) throw new ReviewPoolError('REVIEW_CURSOR_INVALID', `cursor "${text.slice(0, 160)}" is not one this service gave out: pass the \`next\` of the previous page unchanged, or leave cursor out to start from the newest item`);
  return { sampledAt: Number(match[1]), id: match[2]! };
}

/**
 * The review pool in Redis: workers add sampled explanations, reviewers lease the most
 * deserving one, verdicts close it. Leases and verdicts are Lua scripts, so they are atomic
 * however many review-service replicas run.
 */
export class ReviewPool {
  private readonly keys: ReturnType<typeof redisKeys>;

  private readonly skipMemoryMs: number;

  private readonly closingTimeoutMs: number;

  private readonly retentionMs: number;

  private readonly baselineEvery: number;

  private readonly reindexIntervalMs: number;

  private readonly onInvalidItem: (id: string, problem: string) => void;

  /** Clears of markers set by begins that failed while Redis could not be reached, until it can. */
  private readonly pendingClears: PendingClears;

  private readonly redis: Redis;
  private readonly prefix: string;

  /**
   * `skipMemoryMs`: how long a skipped item stays away from the reviewer who skipped it.
   * `closingTimeoutMs`: how long a verdict being kept, or an undo being saved, may block its item (see beginVerdict, beginUndo).
   * `retentionMs`: how long a reviewed or broken item stays listed (0: for ever).
   * `baselineEvery`: every how many leases one tries the uniform baseline first (pool-order.ts; 4).
   * `reindexIntervalMs`: how old a model's last full indexing of its pending items may grow before
   * its next backlog or pending listing indexes it again (an hour: defaultReindexIntervalMs).
   * `onInvalidItem`: told of each stored item a listing skipped because it fails its schema.
   */
  constructor(
    redis: Redis,
    prefix: string,
    options: { skipMemoryMs?: number; closingTimeoutMs?: number; retentionMs?: number; baselineEvery?: number; reindexIntervalMs?: number; onInvalidItem?: (id: string, problem: string) => void } = {},
  ) {
    this.redis = redis;
    this.prefix = prefix;
    this.onInvalidItem = options.onInvalidItem ?? (() => {});
    this.keys = redisKeys(prefix);
    this.skipMemoryMs = options.skipMemoryMs ?? defaultSkipMemoryMs;
    this.closingTimeoutMs = options.closingTimeoutMs ?? defaultClosingTimeoutMs;
    this.retentionMs = options.retentionMs ?? defaultRetentionMs;
    this.baselineEvery = options.baselineEvery ?? defaultBaselineEvery;
    this.reindexIntervalMs = options.reindexIntervalMs ?? defaultReindexIntervalMs;
    this.pendingClears = new PendingClears(redis);
    if (!(Number.isInteger(this.retentionMs) && this.retentionMs >= 0)) throw new RangeError(`retentionMs must be a non-negative integer, got ${this.retentionMs}`);
    for (const [name, value] of [['skipMemoryMs', this.skipMemoryMs], ['closingTimeoutMs', this.closingTimeoutMs], ['baselineEvery', this.baselineEvery], ['reindexIntervalMs', this.reindexIntervalMs]] as const) {
      if (!(Number.isInteger(value) && value > 0)) throw new RangeError(`${name} must be a positive integer, got ${value}`);
    }
  }

  /**
   * Adds an item once: an id already in the pool (pending, leased or reviewed) is left alone.
   * The item (its fixed part and its state, see item-lua.ts) and its four index entries are
   * written by one script: a worker killed between them would leave an item that exists but is
   * in no pool, and its retried job could never add it again. Its lane (pool-order.ts) is kept in
   * its state. The same script takes up to 100 expired closed items out of the listing index (as
   * lease and the reads do).
   */
  async add(item: ReviewItem): Promise<boolean> {
    const { reviewItem, reviewState, reviewIndex, reviewBroken, reviewSkips, reviewVerdicts, reviewUndos } = this.keys;
    const lane = laneOf(item.inferenceId, item.sampling.policy);
    const { fixed, state } = storedItem(item, lane);
    const keys = [reviewItem(item.inferenceId), reviewState(item.inferenceId), reviewIndex, reviewBroken, reviewSkips, reviewVerdicts, reviewUndos];
    const args = [fixed, state, String(item.sampling.priority), String(item.sampledAt), item.inferenceId, item.model, this.prefix, lane, String(item.predictedClass)];
    return (await this.call('adding an item', () => this.redis.eval(addScript, keys.length, ...keys, ...args))) === 1;
  }

  /**
   * Leases the next pending item in the serving order (of `model`, or of any) the reviewer has
   * not skipped, for `leaseMs`: every `baselineEvery`th lease the oldest of the uniform baseline,
   * the others the highest priority, oldest first among equals (pool-order.ts); or answers the
   * reviewer's own live lease again, as it is, whatever `model` asks for: one live lease per
   * reviewer (asking twice, or with another filter, leases one item). Items of the pool as kept
   * before the lanes are sorted into them first.
   */
  async lease(reviewer: string, leaseMs: number, options: { model?: string; now?: number } = {}): Promise<ReviewItem | undefined> {
    const leaseOnce = async (sortFirst: boolean) =>
      (await this.call('leasing an item', () =>
        this.redis.eval(leaseScript, 0, this.prefix, options.now ?? Date.now(), leaseMs, reviewer, options.model ?? '', this.skipMemoryMs, this.closingTimeoutMs, this.baselineEvery, sortFirst ? '1' : '0'),
      )) as [string, string] | 'SORT' | null;
    let stored = await leaseOnce(true);
    if (stored === 'SORT') {
      await this.sortOldPool();
      stored = await leaseOnce(false);
    }
    return stored === null || stored === 'SORT' ? undefined : scriptItem(stored);
  }

  /**
   * Moves every item of the pool as it was kept before the lanes (added, or given back, by a
   * version before them) into its lane, `sortBatch` at a time: each step is one short script, so
   * a large old pool never blocks Redis for long, and replicas sorting at once pass over what the
   * other moved. It stops after 2,000 steps (a million items), so that old workers still adding
   * during a rolling upgrade cannot hold a lease back: what is left waits for the next lease.
   */
  private async sortOldPool(): Promise<void> {
    for (let step = 0; step < 2_000; step++) {
      const ids = await this.call('sorting the pool kept before the lanes', () => this.redis.zrange(this.keys.reviewLegacyPool, 0, sortBatch - 1));
      if (ids.length === 0) return;
      const fixed = await this.call('sorting the pool kept before the lanes', () => this.redis.mget(ids.map((id) => this.keys.reviewItem(id))));
      const args = ids.flatMap((id, i) => [id, laneOfStored(id, fixed[i])]);
      await this.call('sorting the pool kept before the lanes', () => this.redis.eval(sortOldPoolScript, 0, this.prefix, ...args));
    }
  }

  /**
   * First step of keeping a verdict: while the reviewer holds the lease, marks the item as closing
   * with a fresh token (the verdict's id). From then until `finishVerdict` (or the closing
   * timeout, or `cancelVerdict`), no other verdict, release or skip is taken
   * (REVIEW_VERDICT_IN_PROGRESS), not even the same verdict sent again by another request, so the
   * caller may rewrite review.json knowing no other request is writing it; and the item is not
   * leased again even if the lease runs out. One already kept (the same reviewer, verdict and
   * comment) answers `done`; another verdict (or comment) from the reviewer whose verdict was kept is
   * REVIEW_ALREADY_JUDGED, carrying the kept item (not NOT_LEASED: a page whose first try got no
   * answer must not say that verdict was lost). A marker of the same verdict that outlived the closing timeout is
   * taken over with its token. `resume` (a token) is for a retry that found that token's entry in
   * review.json already (it writes nothing): that token's marker is answered `begun` instead of
   * refused. This call's own command run twice (ioredis resends one whose reply a dropped
   * connection lost) finds its own marker and answers `begun`. When Redis fails or does not answer
   * in time (QueueUnavailableError), the script may have run all the same: a marker it set is
   * cleared, so that the verdict sent again is not refused for a marker nobody will finish. The
   * clear is sent before the error is thrown; when it cannot be (the connection is down, or slower
   * to come back than the command timeout) it is sent on the connection's next 'ready', after
   * ioredis has resent the lost begin and before anything sent after the reconnect (see
   * PendingClears). A stale marker it took over is left to time out again: it keeps the dead
   * request's token, whose entry review.json may hold. `shown` (the explanation on the reviewer's
   * screen) is kept with the marker and, once finished, with the verdict (the item's `shown`); it
   * is not part of "the same verdict": the first request's stands (a marker taken over keeps its own).
   */
  async beginVerdict(id: string, reviewer: string, verdict: Verdict, comment: string | undefined, now = Date.now(), options: { resume?: string; shown?: ReviewShown | undefined } = {}): Promise<BegunVerdict> {
    const request = randomUUID();
    const { shown } = options;
    const args = [id, reviewer, verdict, comment ?? '', now, request, this.closingTimeoutMs, options.resume ?? '', shown?.method ?? '', shown?.classIndex ?? ''];
    let answer: [string, string, string];
    try {
      answer = await this.holderScript<[string, string, string]>(id, reviewer, beginVerdictScript, args);
    } catch (error) {
      if (error instanceof QueueUnavailableError) await this.clearFailedBegin(request, () => this.cancelVerdict(id, request, request));
      throw error;
    }
    const [state, ...stored] = answer;
    const item = scriptItem(stored);
    if (state === 'done') return { state, item };
    if (state === 'judged') throw alreadyJudged(item);
    const { closing } = item;
    if (!closing) throw new ReviewPoolError('REVIEW_ITEM_INVALID', `"${id}" began a verdict but holds no marker`);
    return { state: 'begun', item: { ...item, closing } };
  }

  /**
   * Last step: closes the item with the verdict its marker holds, for that marker's token only
   * (even if the lease ran out since the verdict began). `closedNow` is false for a retry of a
   * verdict closed already (true for this call's own command resent after a lost reply: it did
   * close it). REVIEW_NOT_LEASED when the marker is gone (it timed out).
   */
  async finishVerdict(id: string, token: string): Promise<{ item: ReviewItem; closedNow: boolean }> {
    const [state, ...stored] = await this.holderScript<[string, string, string]>(id, 'this request', finishVerdictScript, [id, token, this.retentionMs, randomUUID()]);
    return { item: scriptItem(stored), closedNow: state === 'closed' };
  }

  /**
   * Clears the verdict marker of `token` (its review.json write failed, or its begin failed), so the
   * verdict can be sent again at once; with `request`, only while the marker is still that request's
   * (a late clear must not clear a marker another request took over).
   */
  async cancelVerdict(id: string, token: string, request?: string): Promise<void> {
    await this.call(`acting on "${id}"`, () => this.redis.eval(cancelVerdictScript, 0, this.prefix, id, token, ...(request === undefined ? [] : [request])));
  }

  /** Begins and finishes a verdict at once: for callers that keep no record of their own (tests, tools). */
  async complete(id: string, reviewer: string, verdict: Verdict, comment: string | undefined, now = Date.now()): Promise<ReviewItem> {
    const begun = await this.beginVerdict(id, reviewer, verdict, comment, now);
    return begun.state === 'done' ? begun.item : (await this.finishVerdict(id, begun.item.closing.token)).item;
  }

  /**
   * Gives a leased item back to the pool at once (the holder stops reviewing); only the lease
   * holder can. With `lease` (the `leaseExpiresAt` the caller was handed), only that lease: once
   * the item was renewed or leased again it is refused (REVIEW_NOT_LEASED), so a release that
   * arrives late (a closing page's) cannot take back a lease given out after it was sent.
   * Release, skip, set-aside, restore and finishUndo answer their own command resent after a lost
   * reply with the item as it stands (it did what they asked), not a refusal.
   */
  release(id: string, reviewer: string, now = Date.now(), options: { lease?: number } = {}): Promise<ReviewItem> {
    return this.leaseHolderScript(id, reviewer, releaseScript, [id, reviewer, now, 0, this.closingTimeoutMs, randomUUID(), options.lease ?? '']);
  }

  /**
   * Gives a leased item back (as release) and keeps it away from this reviewer for the skip
   * memory: for an item they cannot judge. Others still get it; the backlog still counts it.
   */
  skip(id: string, reviewer: string, now = Date.now()): Promise<ReviewItem> {
    return this.leaseHolderScript(id, reviewer, releaseScript, [id, reviewer, now, this.skipMemoryMs, this.closingTimeoutMs, randomUUID(), '']);
  }

  /**
   * Renews the reviewer's live lease on `id`: leased to them until `now + leaseMs`, a new
   * `leaseExpiresAt` (which names the lease from now on: a release bound to the one before is
   * refused). REVIEW_NOT_LEASED when it is not leased to them or their lease ran out (lease it
   * again instead), REVIEW_VERDICT_IN_PROGRESS while their verdict on it is being kept.
   */
  renew(id: string, reviewer: string, leaseMs: number, now = Date.now()): Promise<ReviewItem> {
    return this.leaseHolderScript(id, reviewer, renewScript, [id, reviewer, now, leaseMs, this.closingTimeoutMs]);
  }

  /**
   * Takes an item its reviewer cannot be shown (its stored files are missing or invalid) out of
   * circulation: status `broken` with the reason, never leased again, still listed. Only the
   * reviewer it is leased to can (even if the lease just ran out).
   */
  setAside(id: string, reviewer: string, reason: string, now = Date.now()): Promise<ReviewItem> {
    return this.leaseHolderScript(id, reviewer, setAsideScript, [id, reviewer, now, reason, this.closingTimeoutMs, this.retentionMs, randomUUID()]);
  }

  /**
   * First step of taking back the reviewer's own verdict, within `windowMs` of it: checks the
   * undo and marks the reviewed item as being undone with a fresh token (a Lua script, so the
   * check and the marker are one step). From then until `finishUndo`, `cancelUndo` or the closing
   * timeout, no other undo of it begins (REVIEW_VERDICT_IN_PROGRESS): the caller may rewrite
   * review.json, knowing no other request is writing it. `decidedAt` is when the undo was decided
   * (the window is checked against it; `now` by default), `verdictId` the verdict it takes back
   * (the item's, by default). `resume: true` is for a retry that found its retraction in
   * review.json already (it writes nothing): a live marker is replaced instead of refused. This
   * call's own command resent after a lost reply answers the marker it set. When Redis fails or
   * does not answer in time, the marker it may have set is cleared (as for beginVerdict: before the
   * error is thrown, or on the connection's next 'ready'). REVIEW_NOT_FOUND; REVIEW_NOT_REVIEWED (not reviewed, or no longer with that verdict);
   * REVIEW_NOT_YOURS (another reviewer's verdict); REVIEW_UNDO_EXPIRED (the window passed);
   * REVIEW_VERDICT_IN_PROGRESS (another undo of it is being saved).
   */
  async beginUndo(id: string, reviewer: string, options: { windowMs: number; verdictId?: string; decidedAt?: number; now?: number; resume?: boolean }): Promise<BegunUndo> {
    const [fixed, state, token, decidedAt, at] = await this.undoStep(id, reviewer, options, options.resume === true ? 'resume' : 'begin');
    if (token === undefined || decidedAt === undefined || at === undefined) throw new ReviewPoolError('REVIEW_ITEM_INVALID', `"${id}" began an undo but holds no marker`);
    return { item: scriptItem([fixed, state]), undoing: { token, decidedAt, at } };
  }

  /**
   * Last step: applies the undo begun under `token`. The item is leased to its reviewer again for
   * `leaseMs` (a fresh lease; the item they were handed after it goes back to the pool, so they
   * hold one live lease), its verdict gone from the pool (review.json keeps it, with its
   * retraction). REVIEW_NOT_REVIEWED once applied (by this token or a retry's);
   * REVIEW_VERDICT_IN_PROGRESS when the item no longer holds this token's marker (a retry took
   * over, or it went stale and another undo began): send the undo again. Its own command resent
   * after a lost reply answers the item as the first run left it.
   */
  async finishUndo(id: string, reviewer: string, token: string, options: { leaseMs: number; now?: number }): Promise<ReviewItem> {
    const args = [id, reviewer, token, options.now ?? Date.now(), options.leaseMs, this.closingTimeoutMs];
    return this.leaseHolderScript(id, reviewer, finishUndoScript, args);
  }

  /** Clears the undo marker of `token` (its review.json write failed), so the undo can be sent again at once. */
  async cancelUndo(id: string, token: string): Promise<void> {
    await this.call(`acting on "${id}"`, () => this.redis.eval(cancelUndoScript, 0, this.prefix, id, token));
  }

  /**
   * Begins and finishes an undo at once, for callers that keep no record of their own (tests,
   * tools); `check: true` only checks (the same refusals, nothing changed, no marker).
   */
  async undo(id: string, reviewer: string, options: { windowMs: number; leaseMs: number; verdictId?: string; decidedAt?: number; now?: number; check?: boolean }): Promise<ReviewItem> {
    if (options.check === true) {
      const [fixed, state] = await this.undoStep(id, reviewer, options, 'check');
      return scriptItem([fixed, state]);
    }
    const { undoing } = await this.beginUndo(id, reviewer, options);
    return this.finishUndo(id, reviewer, undoing.token, { leaseMs: options.leaseMs, ...(options.now === undefined ? {} : { now: options.now }) });
  }

  private async undoStep(id: string, reviewer: string, options: { windowMs: number; verdictId?: string; decidedAt?: number; now?: number }, mode: 'begin' | 'resume' | 'check') {
    const now = options.now ?? Date.now();
    const token = randomUUID();
    const args = [id, reviewer, options.verdictId ?? '', options.decidedAt ?? now, now, options.windowMs, this.closingTimeoutMs, token, mode];
    try {
      return await this.holderScript<[string, string, string?, number?, number?]>(id, reviewer, beginUndoScript, args);
    } catch (error) {
      // An undo marker's token is never taken over (a stale one is replaced): a late clear can only clear this call's.
      if (error instanceof QueueUnavailableError && mode !== 'check') await this.clearFailedBegin(token, () => this.cancelUndo(id, token));
      if (!(error instanceof ReviewPoolError && error.code === 'REVIEW_VERDICT_IN_PROGRESS')) throw error;
      throw new ReviewPoolError('REVIEW_VERDICT_IN_PROGRESS', `an undo of the verdict on "${id}" is being saved right now; wait for its answer (send the undo again if that one fails)`);
    }
  }

  /**
   * Puts a broken item back in the pool, pending again (its reason gone), for an operator who has
   * repaired its stored files. REVIEW_NOT_BROKEN for an item in any other state.
   */
  async restore(id: string): Promise<ReviewItem> {
    return scriptItem(await this.holderScript<[string, string]>(id, 'nobody', restoreScript, [id, randomUUID()]));
  }

  /**
   * Clears the marker a begin that failed on Redis may have set (`send`): now, or when Redis cannot
   * be reached (or does not answer), on the connection's next 'ready'. Never throws: the caller
   * throws the begin's own error.
   */
  private async clearFailedBegin(token: string, send: () => Promise<unknown>): Promise<void> {
    try {
      await send();
    } catch {
      // Kept while the marker can still block: past the closing timeout it no longer does.
      this.pendingClears.add(token, { send, until: Date.now() + this.closingTimeoutMs });
    }
  }

  /**
   * Forgets the marker clears still waiting for the connection (their markers time out instead)
   * and stops listening to it; the connection is the caller's to close. Safe to call twice.
   */
  close(): void {
    this.pendingClears.close();
  }

  private async leaseHolderScript(id: string, reviewer: string, script: string, args: (string | number)[]): Promise<ReviewItem> {
    return scriptItem(await this.holderScript<[string, string]>(id, reviewer, script, args));
  }

  /** Runs a script that acts on one item (for its lease holder, `reviewer`), turning its error replies into ReviewPoolErrors. */
  private async holderScript<T>(id: string, reviewer: string, script: string, args: (string | number)[]): Promise<T> {
    try {
      return (await this.call(`acting on "${id}"`, () => this.redis.eval(script, 0, this.prefix, ...args))) as T;
    } catch (error) {
      // The script's own refusals, as its error reply (the cause of the QueueUnavailableError) states them.
      const reply = String((error as Error).cause ?? '');
      if (reply.includes('NOT_FOUND')) throw new ReviewPoolError('REVIEW_NOT_FOUND', `no review item "${id}"`);
      if (reply.includes('UNDO_INTERRUPTED')) throw new ReviewPoolError('REVIEW_VERDICT_IN_PROGRESS', `the undo of "${id}" no longer holds its marker (a retry took it over, or it outlived the closing timeout): send the undo again`);
      if (reply.includes('LEASE_REPLACED')) throw new ReviewPoolError('REVIEW_NOT_LEASED', `the lease on "${id}" named by this call is no longer its lease (it was renewed or leased again since): nothing was changed`);
      if (reply.includes('NOT_LEASED')) throw notLeased(id, reviewer);
      if (reply.includes('IN_PROGRESS')) throw inProgress(id);
      if (reply.includes('NOT_REVIEWED')) throw new ReviewPoolError('REVIEW_NOT_REVIEWED', `"${id}" holds no verdict to undo (it is not reviewed, or its verdict changed since)`);
      if (reply.includes('NOT_YOURS')) throw new ReviewPoolError('REVIEW_NOT_YOURS', `the verdict on "${id}" is another reviewer's: only the reviewer who gave it can undo it`);
      if (reply.includes('UNDO_EXPIRED')) throw new ReviewPoolError('REVIEW_UNDO_EXPIRED', `the verdict on "${id}" can no longer be undone: the undo window has passed`);
      if (reply.includes('NOT_BROKEN')) throw new ReviewPoolError('REVIEW_NOT_BROKEN', `"${id}" is not broken: only an item set aside as broken can be restored`);
      throw error;
    }
  }

  /**
   * Every other command goes through here: a Redis that fails or cannot be reached is a
   * QueueUnavailableError (a 503 for the services, a retry for the worker), never a bare
   * ioredis error that a service cannot tell from its own bug.
   */
  private call<T>(what: string, command: () => Promise<T>): Promise<T> {
    return redisCall(`review pool: ${what}`, command);
  }

  /**
   * Returns the leases that ran out by `now` to the pool before a read, so that a read agrees
   * with the backlog: such an item is pending (no lease shown as if live), not leased until the
   * next lease call happens to put it back.
   */
  private async reclaimExpiredLeases(now: number): Promise<void> {
    await this.call('returning expired leases to the pool', () => this.redis.eval(reclaimScript, 0, this.prefix, now, this.closingTimeoutMs));
  }

  /**
   * Erases one item, whatever its status, with every index entry of its id (remove-script.ts): for
   * an inference erased on request. True when the item was there, false when there was none (a
   * second removal, or an id never sampled for review). REVIEW_VERDICT_IN_PROGRESS, nothing
   * changed, while a verdict or an undo on it is being kept (it is writing review.json): ask again
   * once it is done (within the closing timeout at most).
   */
  async remove(id: string, now = Date.now()): Promise<boolean> {
    try {
      return (await this.call(`removing "${id}"`, () => this.redis.eval(removeScript, 0, this.prefix, id, now, this.closingTimeoutMs))) === 1;
    } catch (error) {
      if (String((error as Error).cause ?? '').includes('IN_PROGRESS')) {
        throw new ReviewPoolError('REVIEW_VERDICT_IN_PROGRESS', `a verdict on "${id}", or its undo, is being saved right now; remove it once that is done`);
      }
      throw error;
    }
  }

  /** One item, as it stands at `now` (a lease that ran out reads as pending). */
  async get(id: string, now = Date.now()): Promise<ReviewItem | undefined> {
    await this.reclaimExpiredLeases(now);
    const [fixed, state] = await this.call('reading an item', () => this.redis.mget(this.keys.reviewItem(id), this.keys.reviewState(id)));
    return fixed === null || fixed === undefined ? undefined : parseItem(fixed, state ?? null);
  }

  /**
   * Items sampled between `from` and `to`, newest first, filtered, one page at a time. The
   * cursor names the last item a page read (its sampledAt and id), so a page costs the same
   * however deep the listing goes, and items sampled while a client pages (they land on top)
   * neither repeat nor hide older ones. Filters are applied after reading, so a page can hold
   * fewer than `limit` items while `next` is still set (but for a pending listing of one model,
   * which reads that model's own index: listingIndex). A stored item that fails its schema is
   * skipped (and reported to `onInvalidItem`). Items are listed as they stand at `page.now`: one
   * whose lease ran out is pending (as the backlog counts it), not leased.
   */
  async list(filter: ReviewListFilter, page: { cursor?: string; limit: number; now?: number }): Promise<{ items: ReviewItem[]; next: string | undefined }> {
    const now = page.now ?? Date.now();
    await this.reclaimExpiredLeases(now);
    const scan = Math.max(page.limit, 100);
    const cursor = page.cursor === undefined ? undefined : parseReviewCursor(page.cursor);
    const entries = await this.indexAfter(await this.listingIndex(filter), filter, cursor, scan);
    if (entries.length === 0) return { items: [], next: undefined };
    // Fixed parts then states, in one read.
    const raws = await this.call('reading a page of items', () => this.redis.mget([...entries.map(([id]) => this.keys.reviewItem(id)), ...entries.map(([id]) => this.keys.reviewState(id))]));
    const items: ReviewItem[] = [];
    const expired: string[] = [];
    let consumed = 0;
    for (const [i, [id]] of entries.entries()) {
      consumed++;
      const fixed = raws[i];
      const read = fixed === null || fixed === undefined ? ({ gone: true } as const) : readItem(fixed, raws[entries.length + i] ?? null);
      if ('gone' in read) {
        expired.push(id);
        continue;
      }
      // One bad item must not make every listing and export that reaches it fail: it is skipped
      // and reported (to the log), and stays visible to `get` as REVIEW_ITEM_INVALID.
      if (!('item' in read)) {
        this.onInvalidItem(id, read.problem);
        continue;
      }
      const { item } = read;
      if (filter.status && item.status !== filter.status) continue;
      if (filter.model && item.model !== filter.model) continue;
      if (filter.verdict && item.verdict !== filter.verdict) continue;
      items.push(item);
      if (items.length === page.limit) break;
    }
    // Closed items expire (retentionMs): lease, add and reclaim take them out of the listing index
    // a few at a time (item-lua.ts, expiringIndex); a listing forgets those it meets before that.
    if (expired.length > 0) await this.call('dropping expired items from the listing index', () => this.redis.zrem(this.keys.reviewIndex, ...expired));
    const more = consumed < entries.length || entries.length === scan;
    const [lastId, lastSampledAt] = entries[consumed - 1]!;
    return { items, next: more ? formatReviewCursor({ sampledAt: lastSampledAt, id: lastId }) : undefined };
  }

  /**
   * The time index a listing reads. Pending items have their own index by sampledAt (the
   * backlog's), so a pending listing reads only pending items, however many have been reviewed;
   * and each model its own (backlog-script.ts), so a pending listing of one model reads none of
   * the other models' items: filtered after reading the index of all models, a reviewer listing
   * one model among busier ones got page after page of nothing, with `next` set. The model's index
   * is read only when it agrees with the model's pool; one written before it is indexed first (as
   * the backlog does), and while it still disagrees (another caller indexes it, or did within the
   * minute) the index of all models is read and filtered, as before. Both order a model's items
   * the same (sampledAt, then id), so a cursor holds across pages read from either. One whose last
   * full indexing is `reindexIntervalMs` old is indexed first too (as the backlog does), then read.
   */
  private async listingIndex(filter: ReviewListFilter): Promise<string> {
    if (filter.status !== 'pending') return this.keys.reviewIndex;
    const { model } = filter;
    if (model === undefined || model === '') return this.keys.reviewPendingAge;
    const agrees = async (askDue: boolean) =>
      (await this.call('reading the listing index', () => this.redis.eval(modelIndexAgreesScript, 0, this.prefix, model, askDue ? this.reindexIntervalMs : ''))) as 0 | 1 | 'DUE';
    // Asking whether it is due may stamp the model's first look: refused at maxmemory, the index is
    // read as it stands (see backlog).
    if ((await agrees(true).catch(whenOutOfMemory(() => agrees(false)))) === 1) return this.keys.reviewModelPendingAge(model);
    await this.indexModel(model).catch(whenOutOfMemory(() => undefined));
    return (await agrees(false)) === 1 ? this.keys.reviewModelPendingAge(model) : this.keys.reviewPendingAge;
  }

  /**
   * Up to `count` [id, sampledAt] of the time index within the filter's window, newest first,
   * after `cursor`. Redis orders equal times by id (ascending, so descending here); the items
   * sharing the cursor's time are read whole and cut at its id, the rest from just below it.
   */
  private async indexAfter(index: string, filter: ReviewListFilter, cursor: ReviewCursor | undefined, count: number): Promise<[string, number][]> {
    const bound = (value: number | undefined, fallback: string) => (value === undefined ? fallback : String(value));
    const min = bound(filter.from, '-inf');
    if (cursor === undefined || (filter.to !== undefined && cursor.sampledAt > filter.to)) {
      return pairs(await this.call('reading the listing index', () => this.redis.zrevrangebyscore(index, bound(filter.to, '+inf'), min, 'WITHSCORES', 'LIMIT', 0, count)));
    }
    if (filter.from !== undefined && cursor.sampledAt < filter.from) return [];
    const ties = (await this.call('reading the listing index', () => this.redis.zrangebyscore(index, cursor.sampledAt, cursor.sampledAt)))
      .filter((id) => id < cursor.id)
      .reverse()
      .slice(0, count)
      .map((id): [string, number] => [id, cursor.sampledAt]);
    if (ties.length === count) return ties;
    const older = await this.call('reading the listing index', () => this.redis.zrevrangebyscore(index, `(${cursor.sampledAt}`, min, 'WITHSCORES', 'LIMIT', 0, count - ties.length));
    return [...ties, ...pairs(older)];
  }

  /**
   * Items waiting for a reviewer (an expired lease counts as waiting) and items leased now, of
   * `model` or of all. Per model, it costs as little as pool-wide whatever the other models hold
   * (the model's own pool and pending index; the live leases, about one per active reviewer): the
   * review page polls it for every open tab, and one script that read past every other model's
   * items blocked Redis, and with it ingest and the workers. A pool written before the model's
   * pending index is indexed by its first backlog (backlog-script.ts), and any model again once its
   * last full indexing is `reindexIntervalMs` old. Those writes (the first look's stamp, the
   * indexing claim, the indexing) only look after the index: while Redis refuses them (maxmemory
   * reached, noeviction: OOM) a model's backlog is counted from the index as it stands, as the
   * backlog of all models is, instead of failing every tab's poll; the pending count is exact
   * still, the oldest may be off until the model is indexed. Any other error fails it.
   */
  async backlog(now = Date.now(), model?: string): Promise<ReviewBacklog> {
    const count = async (indexFirst: boolean) =>
      (await this.call('counting the backlog', () =>
        this.redis.eval(backlogScript, 0, this.prefix, now, this.closingTimeoutMs, model ?? '', indexFirst ? '1' : '0', this.reindexIntervalMs),
      )) as [number, number, number | null] | 'INDEX';
    let answer = await count(model !== undefined).catch(whenOutOfMemory(() => count(false)));
    if (answer === 'INDEX' && model !== undefined) {
      await this.indexModel(model).catch(whenOutOfMemory(() => undefined));
      answer = await count(false);
    }
    // Asked not to index, the script never answers INDEX.
    const [pending, leased, oldest] = answer as [number, number, number | null];
    return { pending, leased, oldestPendingAt: oldest ?? undefined };
  }

  /**
   * Indexes a model's pending items by age (backlog-script.ts), for a pool written before that
   * index, or whose last full indexing is `reindexIntervalMs` old: `indexBatch` entries per script,
   * so Redis is never blocked for long (the items of that model are read, never the other models'),
   * each step after the entry the one before read last, so leases and adds between them leave
   * nothing out. One caller per model indexes, and not again for a minute (`:indexing:{model}`,
   * 60 s): while a replica of the version before still runs during a rolling upgrade, its adds and
   * leases keep the index off, and every poll of every review page would read the whole model
   * again; the others read the index as it is meanwhile. Stops after `maxIndexSteps` steps per set
   * (a million items). The pass done, `:indexed:{model}` holds when it began by Redis's clock (as
   * the claim's minute runs), which the next interval counts from: the callers' clocks may disagree;
   * unless the model then holds nothing, which needs no stamp (stampIndexedScript).
   */
  private async indexModel(model: string): Promise<void> {
    const claimed = await this.call('indexing the backlog', () => this.redis.set(this.keys.reviewModelIndexing(model), '1', 'PX', 60_000, 'NX'));
    if (claimed === null) return;
    const [seconds, micros] = await this.call('indexing the backlog', () => this.redis.time());
    const began = Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
    for (const set of indexPassSets) {
      let after = ['', ''];
      for (let step = 0; step < maxIndexSteps; step++) {
        const last = (await this.call('indexing the backlog', () => this.redis.eval(indexModelStepScript, 0, this.prefix, model, set, ...after))) as [string, string] | -1;
        if (last === -1) break;
        after = last;
      }
    }
    await this.call('indexing the backlog', () => this.redis.eval(stampIndexedScript, 0, this.prefix, model, began));
  }

  /**
   * The models items were ever added for (`add` creates each one's skip count, at 0): what a
   * metric by model counts in from its start, so that its first count is an increase.
   */
  async models(): Promise<string[]> {
    return this.call('reading the models', () => this.redis.hkeys(this.keys.reviewSkips));
  }

  /**
   * Verdicts undone by their reviewer, by `model|class|verdict` (the verdict taken back). Each
   * undone verdict is still in `verdictCounts` (a count that only goes up): the verdicts kept are
   * the one less the other. The counts `add` creates at 0 (see addScript) are not listed.
   */
  async undoCounts(): Promise<Record<string, number>> {
    return this.counts('reading the undo counts', this.keys.reviewUndos);
  }

  /**
   * Verdicts given, by `model|class|verdict` (undone verdicts included: see undoCounts). The counts
   * `add` creates at 0 for an item's model and class (see addScript) are not listed.
   */
  async verdictCounts(): Promise<Record<string, number>> {
    return this.counts('reading the verdict counts', this.keys.reviewVerdicts);
  }

  /** A hash of counts, less those at 0. */
  private async counts(what: string, key: string): Promise<Record<string, number>> {
    const raw = await this.call(what, () => this.redis.hgetall(key));
    return Object.fromEntries(
      Object.entries(raw)
        .map(([field, value]) => [field, Number(value)] as const)
        .filter(([, count]) => count !== 0),
    );
  }
}
