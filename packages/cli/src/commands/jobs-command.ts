import { resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { readLocalStackConfig, readQueueAccessConfig, redactedUrl } from '@gradcam/config';
import {
  type ExplainQueue,
  type FailedJob,
  RetryFailedJobsError,
  closeConnections,
  connectionReady,
  createExplainQueue,
  createProducerConnection,
  explainJob,
  findFailedJobs,
  maxFailedJobsKept,
  queueDepth,
  retryFailedJobs,
} from '@gradcam/queue';
import type { Redis } from 'ioredis';
import { UsageError } from '../cli-error.ts';
import { CommandError } from '../command-error.ts';
import { withJsonErrorLine } from '../fatal-error.ts';
import { checkRedisAnswers } from '../local-stack/redis-ping.ts';
import { repoRoot } from '../local-stack/service-process.ts';
import { readStackFile, stackFileName } from '../local-stack/stack-file.ts';
import { stackRunning } from '../local-stack/state-lock.ts';
import { durationMs } from '../option-values.ts';
import { count, groupFailures, groupJson, groupLines, idList, imageAsItIsNowIds, imageAsItIsNowLine, kindOf, leftOutLine, plural, when } from './failure-groups.ts';

/** Jobs put back per wave, before the queue's depth is read again. */
const waveSize = 1_000;
const pollMs = 2_000;

export const jobsUsage = `Usage: gradcam jobs failed [--code LIST] [--id LIST] [--since DURATION] [--json]
       gradcam jobs retry  [--code LIST] [--id LIST] [--since DURATION] [--dry-run] [--json]
       gradcam jobs pause|resume [--json]

The explain jobs that failed for good (the dead-letter record: kept 30 days, the newest
${maxFailedJobsKept.toLocaleString('en-US')} at most), and putting them back in the queue. Resubmitting a failed id to ingest does
nothing (the id is known), so this is how an accepted record that failed gets explained after all.

  failed   how many failed, per code and kind: after every attempt (a fault that outlasted the
           retries: storage, Redis), after their workers stalled on them too often (died or hung),
           or at once (the job could not succeed as it was: bad input, a model no live worker
           serves); when, which ids, the last reason
  retry    puts the chosen jobs back at the end of the queue with fresh attempts, in waves that
           keep the waiting jobs under half of GRADCAM_MAX_QUEUE_DEPTH (ingest's 429 limit), so new
           records keep being accepted. Without --code or --id it takes the jobs that failed after
           every attempt; the others fail the same way again unless their cause was fixed, so they
           are taken only when named by --code or --id (a stalled-out job then runs alone; one
           that failed on its image (missing, not an image, too large) is explained
           from the image under its key as it is now, no longer checked against the one accepted)
  pause    stops every worker taking jobs (a maintenance window): ingest keeps accepting records,
           which wait in the queue (up to GRADCAM_MAX_QUEUE_DEPTH, then 429); the alert
           GradcamQueuePaused fires after 10 minutes
  resume   workers take jobs again

Options:
  --code LIST       only these failure codes (comma-separated, e.g. STORAGE_UNAVAILABLE,JOB_STALLED)
  --id LIST         only these inference ids (comma-separated)
  --since DURATION  only jobs that failed in the last DURATION (s, m, h or d: 90m, 2h, 7d)
  --dry-run         retry: say what would be retried, change nothing
  --json            one JSON document on stdout; an error that stops the command is one line
                    {"error": {"code", "message"}} (USAGE_ERROR, REDIS_UNREACHABLE, COMMAND_FAILED, …)

Redis: REDIS_URL and GRADCAM_QUEUE_PREFIX as the services have them; when REDIS_URL is unset, the
running local stack's (npm start, read from .gradcam/${stackFileName}). Ctrl-C stops a retry
between jobs and says how far it got; running it again does the rest.`;


const list = (value: string | undefined, name: string): string[] | undefined => {
  if (value === undefined) return undefined;
  const items = [...new Set(value.split(',').map((item) => item.trim()).filter((item) => item !== ''))];
  if (items.length === 0) throw new UsageError(`--${name} needs at least one value`);
  return items;
};

interface QueueLocation {
  readonly redisUrl: string;
  readonly prefix: string;
  readonly maxQueueDepth: number;
  /** Where the URL came from, and what to do when it does not answer. */
  readonly source: string;
  readonly remedy: string;
}

/** Where the queue is: the environment's Redis, else the running local stack's. */
async function queueLocation(): Promise<QueueLocation> {
  const env = readQueueAccessConfig(process.env);
  if (env.redisUrl !== undefined) {
    return { redisUrl: env.redisUrl, prefix: env.queuePrefix ?? 'gradcam', maxQueueDepth: env.maxQueueDepth, source: 'REDIS_URL', remedy: 'start that Redis, or set REDIS_URL to the one the services use' };
  }
  const stateDir = resolve(repoRoot, readLocalStackConfig(process.env).stateDir);
  const noStack = (why: string) =>
    new UsageError(`REDIS_URL is not set and no local stack is running (${why}): set REDIS_URL (and GRADCAM_QUEUE_PREFIX) to the services' Redis, or start the local stack with \`npm start\``);
  const stack = await readStackFile(stateDir).catch(() => {
    throw noStack(`${stateDir}/${stackFileName} is missing`);
  });
  // A file left by a gradcam up killed by SIGKILL names a private Redis whose port another may hold now.
  if (!(await stackRunning(stateDir))) throw noStack(`the gradcam up that wrote ${stateDir}/${stackFileName} is gone`);
  if (stack.redisUrl === undefined) throw new UsageError(`the local stack's ${stackFileName} names no Redis (written by an older gradcam up): restart it, or set REDIS_URL`);
  return {
    redisUrl: stack.redisUrl,
    prefix: env.queuePrefix ?? stack.queuePrefix ?? 'gradcam',
    maxQueueDepth: env.maxQueueDepth,
    source: `the local stack's Redis (${stackFileName})`,
    remedy: 'is `npm start` still running?',
  };
}

/** Whether anything of the explain queue exists under the prefix: a wrong GRADCAM_QUEUE_PREFIX otherwise reads as "nothing failed". */
async function queueExists(connection: Redis, prefix: string): Promise<boolean> {
  const keys = ['meta', 'events', 'wait', 'active', 'delayed', 'completed', 'failed'].map((suffix) => `${prefix}:${explainJob.queueName}:${suffix}`);
  return (await connection.exists(...keys)) > 0;
}

interface Selection {
  readonly jobs: FailedJob[];
  /** Why named ids or codes matched nothing, for stderr. */
  readonly notes: string[];
}

/** The failed jobs the options choose, and what to tell about ids and codes that chose nothing. */
async function selectFailed(connection: Redis, prefix: string, options: { codes?: string[] | undefined; ids?: string[] | undefined; since?: number | undefined; sinceText?: string | undefined }): Promise<Selection> {
  const { codes, ids, since } = options;
  const notes: string[] = [];
  // Ids are looked up whatever --since says, so an id left out by it is told apart from one that is not failed.
  const found = await findFailedJobs({ connection, prefix, ...(ids ? { ids } : since !== undefined ? { since } : {}) });
  if (ids) {
    const foundIds = new Set(found.map((job) => job.id));
    const missing = ids.filter((id) => !foundIds.has(id));
    if (missing.length > 0) notes.push(`not in the failed set (completed, still queued, or unknown): ${idList(missing)}`);
  }
  const recent = since === undefined ? found : found.filter((job) => job.failedAt >= since);
  if (ids && recent.length < found.length) {
    notes.push(`failed before --since ${options.sinceText}: ${idList(found.filter((job) => job.failedAt < since!).map((job) => `${job.id} (${when(job.failedAt)})`))}`);
  }
  if (!codes) return { jobs: recent, notes };
  const chosen = recent.filter((job) => codes.includes(job.code));
  if (ids) {
    const other = recent.filter((job) => !codes.includes(job.code));
    if (other.length > 0) notes.push(`failed with another code than --code: ${idList(other.map((job) => `${job.id} (${job.code})`))}`);
  } else {
    const present = new Set(recent.map((job) => job.code));
    const absent = codes.filter((code) => !present.has(code));
    if (absent.length > 0) notes.push(`no failed job${since === undefined ? '' : ` since ${options.sinceText}`} has code ${absent.join(', ')}${present.size > 0 ? ` (the codes there: ${[...present].sort().join(', ')})` : ''}`);
  }
  return { jobs: chosen, notes };
}

/**
 * `gradcam jobs`. With --json, an error that stops it (a usage error, a Redis that does not answer,
 * no queue under the prefix, a retry cut short) is one JSON line on stdout too:
 * `{"error": {"code", "message"}}`; its line on stderr and the exit status are as without --json.
 */
export function jobsCommand(argv: readonly string[]): Promise<number> {
  return withJsonErrorLine(argv, () => jobs(argv));
}

async function jobs(argv: readonly string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    options: {
      code: { type: 'string' },
      id: { type: 'string' },
      since: { type: 'string' },
      'dry-run': { type: 'boolean' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(jobsUsage);
    return 0;
  }
  const [action, ...extra] = positionals;
  if (action !== 'failed' && action !== 'retry' && action !== 'pause' && action !== 'resume') {
    throw new UsageError(action === undefined ? 'say failed, retry, pause or resume' : `unknown action "${action}" (failed, retry, pause or resume)`);
  }
  if (extra.length > 0) throw new UsageError(`unexpected argument "${extra[0]}"`);
  if (action !== 'retry' && values['dry-run']) throw new UsageError('--dry-run goes with retry');
  if ((action === 'pause' || action === 'resume') && (values.code ?? values.id ?? values.since) !== undefined) throw new UsageError(`${action} takes no --code, --id or --since: it acts on the whole queue`);
  const codes = list(values.code, 'code')?.map((code) => code.toUpperCase());
  const ids = list(values.id, 'id');
  const since = values.since === undefined ? undefined : Date.now() - durationMs('since', values.since);

  const where = await queueLocation();
  await checkRedisAnswers(where.redisUrl, { source: where.source, remedy: where.remedy });
  // Longer than a service's 2 s: a retry of thousands must not stop halfway on one slow reply.
  const connection = createProducerConnection(where.redisUrl, { onError: () => {}, name: 'gradcam-jobs', commandTimeoutMs: 10_000 });
  let queue: ExplainQueue | undefined;
  try {
    await connectionReady(connection);
    if (!(await queueExists(connection, where.prefix))) {
      throw new CommandError(`there is no explain queue under GRADCAM_QUEUE_PREFIX "${where.prefix}" on ${redactedUrl(where.redisUrl)}: set GRADCAM_QUEUE_PREFIX to the services' prefix`);
    }
    // Made only once the queue is known to exist: a BullMQ Queue writes its meta hash as soon as it
    // is made, so one made before the check raced it under a wrong prefix and, when it won, left
    // `<prefix>:explain:meta` behind, which made every later run read "no failed jobs".
    queue = createExplainQueue({ connection, prefix: where.prefix, onError: () => {} });
    if (action === 'pause' || action === 'resume') return await pauseOrResume(queue, action, values.json === true, where);
    const selection = await selectFailed(connection, where.prefix, { codes, ids, since, sinceText: values.since });
    for (const note of selection.notes) console.error(note);
    if (action === 'failed') {
      // The filters as given, so an empty answer says what chose nothing rather than "no failed jobs".
      const filters = (['code', 'id', 'since'] as const).flatMap((name) => (values[name] === undefined ? [] : [`--${name} ${values[name]}`]));
      return reportFailed(selection.jobs, values.json === true, where, filters);
    }
    // Named by --code or --id: taken whatever their kind. Otherwise only faults that outlasted the retries.
    const named = codes !== undefined || ids !== undefined;
    const chosen = named ? selection.jobs : selection.jobs.filter((job) => kindOf(job) === 'exhausted');
    const leftOut = named ? [] : groupFailures(selection.jobs.filter((job) => kindOf(job) !== 'exhausted'));
    const dryRun = values['dry-run'] === true;
    const outcome = dryRun ? { retried: chosen.map((job) => job.id), notFailed: [], stopped: false } : await retryInWaves(queue, chosen, where.maxQueueDepth);
    const retried = new Set(outcome.retried);
    const groups = groupFailures(chosen.filter((job) => retried.has(job.id)));
    if (values.json) {
      console.log(JSON.stringify({ dryRun, stopped: outcome.stopped, retried: groups.map(groupJson), noLongerFailed: outcome.notFailed, leftOut: leftOut.map(groupJson), imageAsItIsNow: imageAsItIsNowIds(groups) }, null, 2));
      return outcome.stopped ? 130 : 0;
    }
    const perCode = groups.map((group) => `${group.code} ${count(group.jobs.length)}`).join(', ');
    if (outcome.stopped) console.log(`stopped: retried ${count(retried.size)} of ${plural(chosen.length, 'job')}${perCode === '' ? '' : ` (${perCode})`}; run the same command again for the rest`);
    else console.log(retried.size === 0 ? 'no failed job to retry' : `${dryRun ? 'would retry' : 'retried'} ${plural(retried.size, 'job')} (${perCode})${dryRun ? '' : ': queued again with fresh attempts'}`);
    const asItIsNow = imageAsItIsNowLine(groups, dryRun);
    if (asItIsNow !== undefined) console.log(asItIsNow);
    if (outcome.notFailed.length > 0) console.log(`${plural(outcome.notFailed.length, 'job')} had left the failed set meanwhile (retried by someone else, or trimmed): ${idList(outcome.notFailed)}`);
    for (const group of leftOut) console.log(leftOutLine(group));
    return outcome.stopped ? 130 : 0;
  } finally {
    await queue?.close();
    await closeConnections(connection);
  }
}

/**
 * Puts the jobs back a wave at a time, each once the queue has room for it under half of ingest's
 * limit: a retry of the whole failed set (up to 100,000, as many as the default limit) at once
 * would make ingest answer 429 to every new record until the workers caught up. Ctrl-C stops it
 * between jobs; a Redis failure stops it too, saying how far it got.
 */
async function retryInWaves(queue: ExplainQueue, jobs: readonly FailedJob[], maxQueueDepth: number): Promise<{ retried: string[]; notFailed: string[]; stopped: boolean }> {
  const room = Math.max(1, Math.floor(maxQueueDepth / 2));
  const wave = Math.min(waveSize, room);
  const retried: string[] = [];
  const notFailed: string[] = [];
  const stop = new AbortController();
  const onInterrupt = () => stop.abort();
  process.once('SIGINT', onInterrupt);
  const progress = (line: string) => console.error(line);
  try {
    for (let start = 0; start < jobs.length && !stop.signal.aborted; start += wave) {
      const ids = jobs.slice(start, start + wave).map((job) => job.id);
      for (let waited = false; ; waited = true) {
        const depth = await queueDepth(queue);
        if (depth === 0 || depth + ids.length <= room) break;
        if (!waited) progress(`${count(depth)} jobs waiting: the next ${count(ids.length)} go back once under ${count(room)} (half of GRADCAM_MAX_QUEUE_DEPTH ${count(maxQueueDepth)}), so ingest keeps accepting records; ${count(retried.length)} of ${count(jobs.length)} retried so far`);
        await sleep(pollMs, undefined, { signal: stop.signal }).catch(() => undefined);
        if (stop.signal.aborted) break;
      }
      if (stop.signal.aborted) break;
      const done = await retryFailedJobs(queue, ids, { signal: stop.signal }).catch((error: unknown) => {
        const before = error instanceof RetryFailedJobsError ? error.done.retried.length : 0;
        throw new CommandError(`retried ${count(retried.length + before)} of ${plural(jobs.length, 'job')}, then Redis failed (${error instanceof Error ? error.message : String(error)}); run the same command again for the rest (jobs already retried are no longer failed)`);
      });
      retried.push(...done.retried);
      notFailed.push(...done.notFailed);
      if (jobs.length > wave) progress(`retried ${count(retried.length)} of ${count(jobs.length)}`);
    }
  } finally {
    process.removeListener('SIGINT', onInterrupt);
  }
  return { retried, notFailed, stopped: stop.signal.aborted };
}

/**
 * Pauses or resumes the explain queue for every worker (BullMQ's global pause: a worker finishes
 * the jobs it holds and takes no more). Says what it found, so a second run is no surprise.
 */
async function pauseOrResume(queue: ExplainQueue, action: 'pause' | 'resume', json: boolean, where: QueueLocation): Promise<number> {
  const wasPaused = await queue.isPaused();
  // Read first: once resumed, the workers start taking them.
  const waiting = await queueDepth(queue);
  if (action === 'pause') await queue.pause();
  else await queue.resume();
  const paused = action === 'pause';
  if (json) {
    console.log(JSON.stringify({ paused, wasPaused, waiting }, null, 2));
    return 0;
  }
  const queueName = `the explain queue under "${where.prefix}" on ${redactedUrl(where.redisUrl)}`;
  const headline = wasPaused === paused ? `was ${paused ? 'paused' : 'running'} already` : paused ? 'is now paused' : 'is resumed';
  const effect = paused ? 'workers take no new jobs (those under way finish); ingest keeps accepting records, which wait' : 'workers take jobs';
  console.log(`${queueName} ${headline}: ${effect}; ${plural(waiting, 'job')} waiting`);
  if (paused) console.log('`gradcam jobs resume` lets the workers take jobs again');
  return 0;
}

function reportFailed(jobs: readonly FailedJob[], json: boolean, where: QueueLocation, filters: readonly string[]): number {
  const groups = groupFailures(jobs);
  if (json) {
    console.log(JSON.stringify({ total: jobs.length, groups: groups.map(groupJson) }, null, 2));
    return 0;
  }
  if (jobs.length === 0) {
    console.log(`no failed jobs${filters.length > 0 ? ` match ${filters.join(' ')}` : ''} (explain queue under "${where.prefix}" on ${redactedUrl(where.redisUrl)})`);
    return 0;
  }
  console.log(`${plural(jobs.length, 'failed job')}:`);
  for (const group of groups) for (const line of groupLines(group)) console.log(line);
  const retriable = jobs.filter((job) => kindOf(job) === 'exhausted').length;
  if (retriable > 0) console.log(`\`gradcam jobs retry\` puts the ${plural(retriable, 'job')} that failed after every attempt back in the queue (--dry-run to see them first)`);
  return 0;
}
