import { failedOnItsImage, imageChangedCode } from '@gradcam/contracts';
import { type FailedJob, jobStalledCode } from '@gradcam/queue';

/**
 * How `gradcam jobs` tells failed jobs apart and words them: by code and by kind (after every
 * attempt, stalled out, at once), in lines for people and in JSON.
 */

/** Ids named per line; ids listed on stderr. */
const idsShown = 5;
const idsListed = 10;

export type FailureKind = 'exhausted' | 'stalled' | 'at-once';

/** Stalled-out jobs are told apart from bad input: the job killed or hung its workers, or they died under it. */
export const kindOf = (job: FailedJob): FailureKind => (job.code === jobStalledCode ? 'stalled' : job.exhausted ? 'exhausted' : 'at-once');

export interface FailureGroup {
  readonly code: string;
  readonly kind: FailureKind;
  readonly jobs: FailedJob[];
}

/** Failed jobs by code and kind, the largest group first. */
export function groupFailures(jobs: readonly FailedJob[]): FailureGroup[] {
  const groups = new Map<string, FailureGroup>();
  for (const job of jobs) {
    const kind = kindOf(job);
    const key = `${job.code} ${kind}`;
    let group = groups.get(key);
    if (!group) groups.set(key, (group = { code: job.code, kind, jobs: [] }));
    group.jobs.push(job);
  }
  return [...groups.values()].sort((a, b) => b.jobs.length - a.jobs.length || a.code.localeCompare(b.code));
}

export const count = (n: number) => n.toLocaleString('en-US');
export const plural = (n: number, word: string) => `${count(n)} ${word}${n === 1 ? '' : 's'}`;
export const when = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
export const idList = (ids: readonly string[], shown = idsListed) => `${ids.slice(0, shown).join(', ')}${ids.length > shown ? `, … (${count(ids.length - shown)} more)` : ''}`;

function howItFailed(group: FailureGroup): string {
  const last = group.jobs.at(-1) as FailedJob;
  switch (group.kind) {
    case 'exhausted':
      return `after every attempt (${last.attemptsMade} of ${last.maxAttempts})`;
    case 'stalled':
      return 'after their workers stalled on them too often (died or hung)';
    default:
      return 'at once (the job could not succeed as it was: bad input, or a model no live worker serves)';
  }
}

export function groupLines(group: FailureGroup): string[] {
  const first = group.jobs[0] as FailedJob;
  const last = group.jobs.at(-1) as FailedJob;
  const newest = group.jobs.slice(-idsShown).map((job) => job.id).reverse();
  return [
    `${group.code}: ${plural(group.jobs.length, 'job')} failed ${howItFailed(group)}, ${first.failedAt === last.failedAt ? `at ${when(last.failedAt)}` : `${when(first.failedAt)} to ${when(last.failedAt)}`}`,
    `  newest: ${newest.join(', ')}${group.jobs.length > newest.length ? `, … (${count(group.jobs.length - newest.length)} more)` : ''}`,
    `  last reason: ${last.message}`,
  ];
}

export function groupJson(group: FailureGroup) {
  const last = group.jobs.at(-1) as FailedJob;
  return {
    code: group.code,
    kind: group.kind,
    count: group.jobs.length,
    firstFailedAt: when((group.jobs[0] as FailedJob).failedAt),
    lastFailedAt: when(last.failedAt),
    lastReason: last.message,
    ids: group.jobs.map((job) => job.id),
  };
}

export function leftOutLine(group: FailureGroup): string {
  const what = plural(group.jobs.length, 'job');
  // No fix makes it succeed: the job names the image accepted, which is no longer under its key.
  if (group.code === imageChangedCode) return `left out: ${group.code}, ${what} whose image was replaced after ingest accepted the record; a retry fails the same way: resubmit each record, with the image it was predicted on, under a new id`;
  if (group.kind === 'stalled') return `left out: ${group.code}, ${what} whose workers died or hung on them; name it with --code ${group.code} to run them again (each runs alone)`;
  return `left out: ${group.code}, ${what} that failed at once; name it with --code ${group.code} (or the ids with --id) once the cause is fixed`;
}

/**
 * The retried jobs that failed on their image itself: retryFailedJobs drops the image identity
 * ingest recorded (see failedOnItsImage), so the worker explains whatever is under the key now,
 * unchecked. Said, so an operator who has not fixed the image, or put another one there, is told.
 */
export function imageAsItIsNowLine(groups: readonly FailureGroup[], dryRun: boolean): string | undefined {
  const onImage = groups.filter((group) => failedOnItsImage(group.code));
  const n = onImage.reduce((sum, group) => sum + group.jobs.length, 0);
  if (n === 0) return undefined;
  const their = n === 1 ? 'its' : 'their';
  const codes = [...new Set(onImage.map((group) => group.code))].join(', ');
  return `${codes}: ${plural(n, 'job')} failed on ${their} image; ${dryRun ? 'would be ' : ''}explained from the image under ${their} key as it is now, no longer checked against the one ingest accepted (its size, ETag, sha256): fix the image there first`;
}

/** The ids of imageAsItIsNowLine's jobs, for --json. */
export const imageAsItIsNowIds = (groups: readonly FailureGroup[]): string[] => groups.filter((group) => failedOnItsImage(group.code)).flatMap((group) => group.jobs.map((job) => job.id));
