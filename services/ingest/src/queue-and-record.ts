import type { ExplainJob, IndexEntry } from '@gradcam/contracts';
import { type ApiError, type ServerErrorReport, dependencyUnavailable, reportedApiError } from '@gradcam/http-service';
import { QueueUnavailableError, type StrandedJobCandidate, type StrandedJobCheck, redisAnsweredWithError } from '@gradcam/queue';
import { inferenceInProgress, jobNotChecked, jobNotConfirmed, toReportedApiError } from './api-error.ts';
import type { HeldClaims } from './held-claims.ts';
import type { CommitResult, HoldResult, InferenceIndex, PendingFolder } from './inference-index.ts';

export interface QueueDeps {
  readonly index: InferenceIndex;
  readonly enqueue: (jobs: readonly ExplainJob[]) => Promise<void>;
  /**
   * Removes the job of each id that is in no state of the queue, while this request's claim holds
   * the id, and says per id what it did (see removeStrandedJobs in @gradcam/queue): asked after an
   * enqueue failed, before the ids whose claim found a job and an enqueue-failed mark are enqueued
   * again, and for the ids whose commit found a mark this request had not vouched for.
   */
  readonly removeStrandedJobs: (candidates: readonly StrandedJobCandidate[]) => Promise<readonly StrandedJobCheck[]>;
  /** Told of every failure answered 5xx, with the request id the answer names. */
  readonly onServerError?: ServerErrorReport;
}

/** A record whose prediction.json is stored, to be queued and recorded under this request's claim. */
export interface StoredRecord {
  readonly id: string;
  readonly entry: IndexEntry;
  /** Its explain job; none when capture sampling skipped it. */
  readonly job?: ExplainJob;
  /** The enqueue-failed mark its claim found ('' for none). */
  readonly mark: string;
  /** Its claim found a job beside the mark: a job that may be in no state, checked before the add. */
  readonly checkFirst: boolean;
}

/** Per record: recorded; found accepted by another attempt (its entry: the record is a duplicate); or the answer it gets instead. */
export type QueueOutcome = 'recorded' | { readonly acceptedBefore: IndexEntry } | ApiError;

const queuedSentence = 'the records were stored and queued but their ids could not be recorded; retry with the same ids to complete them (a retry makes no second job)';
const addFailedSentence = 'the records were stored, but Redis failed while their jobs were being queued, so whether they are queued is not known; retry with the same ids to complete them (a retry makes no second job)';
const unconfirmedSentence = 'the records were stored, but whether their jobs are queued could not be confirmed (another attempt at the same ids failed meanwhile); retry with the same ids to complete them (a retry makes no second job)';

/**
 * Rounds of check, add and commit for a record whose commit found a mark it had not vouched for.
 * Each round after the first takes another attempt failing an add of the id meanwhile (an attempt
 * whose claim lapsed in a storage stall): one more is plenty, and the rounds must end.
 */
const maxRounds = 3;

/**
 * Queues the jobs of stored records and records their ids, under this request's claim. A job an
 * earlier attempt's failed enqueue may have left stored but in no state (BullMQ's add stores the
 * hash before it queues the id, and Redis does not undo a script that fails between the two) would
 * make the add below a no-op, and the record, answered "queued", never explained. So:
 *
 * - an id whose claim found a job and an enqueue-failed mark has the job checked (removed if in no
 *   state) before the add; an id whose check could not be made under the claim (the claim lapsed,
 *   or the job is locked) is neither added nor recorded: 409 INFERENCE_IN_PROGRESS, and its retry
 *   checks it under a claim of its own;
 * - an id whose claim may have lapsed (a storage stall; see HeldClaims) is confirmed before the
 *   add: one another request holds or accepted since is not added (409, or its duplicate);
 * - the commit records an id only if its mark is the one this request vouches for (the claim's,
 *   whose job was checked or which had no job). A mark set since (an attempt whose claim lapsed
 *   failed an add after this one claimed the id) answers `needs-check`: the job is checked, added
 *   again and committed again. An id without a mark costs nothing more than its add and commit.
 *
 * A failure answers the records it leaves undecided, each for itself (records the request answered
 * otherwise, before or in an earlier round, keep their answers; a request whose records all failed
 * alike is answered as a whole by the app): 503 ACCEPT_INCOMPLETE when Redis failed during the
 * enqueue (after the ids are marked: the jobs may be queued) or the commit (the jobs are queued,
 * the ids not recorded), and in a later round, this request's first add having run, whatever
 * failed; a check failing before this request's first add is Redis's 503 (nothing was accepted). Every
 * record that is not recorded has its claim given back, so its retry goes on at once.
 */
export async function queueAndRecord(deps: QueueDeps, holder: string, records: readonly StoredRecord[], requestId: string, claims: HeldClaims): Promise<QueueOutcome[]> {
  const outcomes: (QueueOutcome | undefined)[] = new Array(records.length);
  const record = (i: number) => records[i] as StoredRecord;
  const held = (id: string): StrandedJobCandidate => ({ id, heldBy: deps.index.claimOf(holder, id) });
  /** The mark each record's commit vouches for. */
  const vouched = records.map((r) => r.mark);
  let pending = records.map((_, i) => i);
  let toCheck = pending.filter((i) => record(i).checkFirst);
  const incomplete = (sentence: string, error: unknown) => reportedApiError(dependencyUnavailable('ACCEPT_INCOMPLETE', sentence, requestId), error, requestId, deps.onServerError);
  for (let round = 1; pending.length > 0; round += 1) {
    const fail = async (failed: readonly number[], error: unknown, answer?: ApiError) => {
      await releaseQuietly(deps, holder, failed.map((i) => record(i).id));
      // From the second round on, this request's first add has run: not "nothing was accepted".
      const given = answer ?? (round === 1 ? toReportedApiError(error, requestId, deps.onServerError) : incomplete(unconfirmedSentence, error));
      for (const i of failed) outcomes[i] = given;
    };

    if (toCheck.length > 0) {
      let checks: readonly StrandedJobCheck[];
      try {
        checks = await deps.removeStrandedJobs(toCheck.map((i) => held(record(i).id)));
      } catch (error) {
        await fail(pending, error);
        break;
      }
      const lost: number[] = [];
      toCheck.forEach((i, k) => {
        const check = checks[k];
        if (check !== 'not-held' && check !== 'locked') return;
        outcomes[i] = jobNotChecked(record(i).id, check);
        lost.push(i);
      });
      await releaseQuietly(deps, holder, lost.map((i) => record(i).id));
      pending = pending.filter((i) => outcomes[i] === undefined);
      if (pending.length === 0) break;
    }

    // A claim that may have lapsed (a storage stall) is confirmed first: an attempt whose claim
    // lapsed must not add the id's job once the job of the request that accepted it since
    // completed and was removed (the add would make a second job). See HeldClaims.
    const adding = pending.filter((i) => record(i).job !== undefined);
    let holds: HoldResult[];
    try {
      holds = await claims.confirm(adding.map((i) => ({ id: record(i).id, acceptedAt: record(i).entry.acceptedAt })));
    } catch (error) {
      await fail(pending, error);
      break;
    }
    holds.forEach((hold, k) => {
      const i = adding[k] as number;
      if (hold.state === 'accepted') outcomes[i] = { acceptedBefore: hold.entry };
      else if (hold.state === 'not-held') outcomes[i] = inferenceInProgress(record(i).id);
    });
    pending = pending.filter((i) => outcomes[i] === undefined);
    if (pending.length === 0) break;

    const jobs = pending.flatMap((i) => record(i).job ?? []);
    try {
      if (jobs.length > 0) await deps.enqueue(jobs);
    } catch (error) {
      // The add may have failed partway, leaving a job stored but not queued. The ids are marked,
      // so that their retry checks them (and only they are checked). When Redis answered the add
      // with an error (a script failing partway), they are also checked now, while this request
      // still holds them, and a job stored but not queued is removed; after a timeout or a lost
      // connection a scan of the wait list per id would only load a Redis that is not answering.
      // Best effort.
      const enqueued = jobs.map((job) => job.inferenceId);
      try {
        await deps.index.markEnqueueFailed(enqueued);
        if (redisAnsweredWithError(error)) await deps.removeStrandedJobs(enqueued.map(held));
      } catch {
        // Left to the retry. A job stranded and not marked (Redis lost just after the failed add)
        // is the one case this misses: its retry is ignored as a duplicate add.
      }
      // Not "nothing was accepted": an add that timed out may still run, and of a bulk add that
      // failed, the adds before the failure have run.
      await fail(pending, error, error instanceof QueueUnavailableError ? incomplete(addFailedSentence, error) : undefined);
      break;
    }

    let results: CommitResult[];
    try {
      results = await deps.index.commit(
        holder,
        pending.map((i) => ({ id: record(i).id, entry: record(i).entry, checkedMark: vouched[i] as string })),
      );
    } catch (error) {
      // The jobs are queued but the ids not recorded (or, after a timeout, recorded late): not
      // "nothing was accepted". A retry re-stores the same documents, re-adds the same job ids
      // (BullMQ ignores them) and records, or finds them recorded.
      await fail(pending, error, incomplete(round === 1 ? queuedSentence : unconfirmedSentence, error));
      break;
    }
    const again: number[] = [];
    results.forEach((result, k) => {
      const i = pending[k] as number;
      if (result.state === 'recorded') outcomes[i] = 'recorded';
      // Not recorded: this request's claim expired and another request holds the id now, or has accepted it.
      else if (result.state === 'not-held') outcomes[i] = inferenceInProgress(record(i).id);
      else if (result.state === 'accepted') outcomes[i] = { acceptedBefore: result.entry };
      else {
        vouched[i] = result.mark;
        again.push(i);
      }
    });
    if (again.length > 0 && round === maxRounds) {
      for (const i of again) outcomes[i] = jobNotConfirmed(record(i).id);
      await releaseQuietly(deps, holder, again.map((i) => record(i).id));
      break;
    }
    pending = again;
    toCheck = again;
  }
  return outcomes as QueueOutcome[];
}

/**
 * Releases claims (and the pending folders they proposed for `proposed`'s ids: see
 * InferenceIndex.release); a failure is left to InferenceIndex.release's resend or the claims'
 * expiry (the caller is already answering an error).
 */
export async function releaseQuietly(deps: Pick<QueueDeps, 'index'>, holder: string, ids: readonly string[], proposed?: ReadonlyMap<string, PendingFolder>): Promise<void> {
  await deps.index.release(holder, ids, proposed).catch(() => undefined);
}
