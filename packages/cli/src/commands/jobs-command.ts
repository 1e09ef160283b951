import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { readLocalStackConfig, readQueueAccessConfig } from '@gradcam/config';
import { type FailedJob, closeConnections, connectionReady, createExplainQueue, createProducerConnection, findFailedJobs, maxFailedJobsKept, retryFailedJobs } from '@gradcam/queue';
import { UsageError } from '../cli-error.ts';
import { checkRedisAnswers } from '../local-stack/redis-ping.ts';
import { repoRoot } from '../local-stack/service-process.ts';
import { readStackFile, stackFileName } from '../local-stack/stack-file.ts';
import { durationMs } from '../option-values.ts';

export const jobsUsage = `Usage: gradcam jobs failed [--code LIST] [--id LIST] [--since DURATION] [--json]
       gradcam jobs retry  [--code LIST] [--id LIST] [--since DURATION] [--dry-run] [--json]

The explain jobs that failed for good (the dead-letter record: kept 30 days, the newest
${maxFailedJobsKept.toLocaleString('en-US')} at most), and putting them back in the queue. Resubmitting a failed id to ingest does
nothing (the id is known), so this is how an accepted record that failed gets explained after all.

  failed   how many failed, per code: after every attempt (a fault that outlasted the retries:
           storage, Redis, a crash) or at once (bad input), when, which ids, the last reason
  retry    puts the chosen jobs back at the end of the queue with fresh attempts. Without --code
           or --id it takes the jobs that failed after every attempt; a job that failed at once on
           bad input fails the same way again unless its input was fixed, so it is taken only when
           named by --code or --id

Options:
  --code LIST       only these failure codes (comma-separated, e.g. STORAGE_UNAVAILABLE,JOB_STALLED)
  --id LIST         only these inference ids (comma-separated)
  --since DURATION  only jobs that failed in the last DURATION (s, m, h or d: 90m, 2h, 7d)
  --dry-run         retry: say what would be retried, change nothing
  --json            one JSON document on stdout

Redis: REDIS_URL and GRADCAM_QUEUE_PREFIX as the services have them; when REDIS_URL is unset, the
local stack's (npm start, read from .gradcam/${stackFileName}).`;

/** Ids shown per line of the summary. */
const idsShown = 5;

interface FailureGroup {
  readonly code: string;
  readonly exhausted: boolean;
  readonly jobs: FailedJob[];
}

/** Failed jobs by code and by whether they used every attempt, the largest group first. */
function groupFailures(jobs: readonly FailedJob[]): FailureGroup[] {
  const groups = new Map<string, FailureGroup>();
  for (const job of jobs) {
    const key = `${job.code} ${job.exhausted}`;
    let group = groups.get(key);
    if (!group) groups.set(key, (group = { code: job.code, exhausted: job.exhausted, jobs: [] }));
    group.jobs.push(job);
  }
  return [...groups.values()].sort((a, b) => b.jobs.length - a.jobs.length || a.code.localeCompare(b.code));
}

const plural = (n: number, word: string) => `${n.toLocaleString('en-US')} ${word}${n === 1 ? '' : 's'}`;
const when = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

function groupLines(group: FailureGroup): string[] {
  const first = group.jobs[0] as FailedJob;
  const last = group.jobs.at(-1) as FailedJob;
  const how = group.exhausted ? `after every attempt (${last.attemptsMade} of ${last.maxAttempts})` : 'at once (bad input)';
  const ids = group.jobs.slice(-idsShown).map((job) => job.id);
  const more = group.jobs.length > ids.length ? `, … (${group.jobs.length - ids.length} more)` : '';
  return [
    `${group.code}: ${plural(group.jobs.length, 'job')} failed ${how}, ${first.failedAt === last.failedAt ? `at ${when(last.failedAt)}` : `${when(first.failedAt)} to ${when(last.failedAt)}`}`,
    `  newest: ${ids.reverse().join(', ')}${more}`,
    `  last reason: ${last.message}`,
  ];
}

function groupJson(group: FailureGroup) {
  return {
    code: group.code,
    exhausted: group.exhausted,
    count: group.jobs.length,
    firstFailedAt: when((group.jobs[0] as FailedJob).failedAt),
    lastFailedAt: when((group.jobs.at(-1) as FailedJob).failedAt),
    lastReason: (group.jobs.at(-1) as FailedJob).message,
    ids: group.jobs.map((job) => job.id),
  };
}

const list = (value: string | undefined, name: string): string[] | undefined => {
  if (value === undefined) return undefined;
  const items = [...new Set(value.split(',').map((item) => item.trim()).filter((item) => item !== ''))];
  if (items.length === 0) throw new UsageError(`--${name} needs at least one value`);
  return items;
};

/** Where the queue is: the environment's Redis, else the local stack's. */
async function queueLocation(): Promise<{ redisUrl: string; prefix: string; source: string; remedy: string }> {
  const env = readQueueAccessConfig(process.env);
  if (env.redisUrl !== undefined) {
    return { redisUrl: env.redisUrl, prefix: env.queuePrefix ?? 'gradcam', source: 'REDIS_URL', remedy: 'start that Redis, or set REDIS_URL to the one the services use' };
  }
  const stateDir = resolve(repoRoot, readLocalStackConfig(process.env).stateDir);
  const stack = await readStackFile(stateDir).catch(() => {
    throw new UsageError(`REDIS_URL is not set and no local stack is running (${stateDir}/${stackFileName} is missing): set REDIS_URL (and GRADCAM_QUEUE_PREFIX) to the services' Redis, or start the local stack with \`npm start\``);
  });
  if (stack.redisUrl === undefined) throw new UsageError(`the local stack's ${stackFileName} names no Redis (written by an older gradcam up): restart it, or set REDIS_URL`);
  return {
    redisUrl: stack.redisUrl,
    prefix: env.queuePrefix ?? stack.queuePrefix ?? 'gradcam',
    source: `the local stack's Redis (${stackFileName})`,
    remedy: 'is `npm start` still running?',
  };
}

export async function jobsCommand(argv: readonly string[]): Promise<number> {
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
  if (action !== 'failed' && action !== 'retry') throw new UsageError(action === undefined ? 'say failed or retry' : `unknown action "${action}" (failed or retry)`);
  if (extra.length > 0) throw new UsageError(`unexpected argument "${extra[0]}"`);
  if (action === 'failed' && values['dry-run']) throw new UsageError('--dry-run goes with retry');
  const codes = list(values.code, 'code')?.map((code) => code.toUpperCase());
  const ids = list(values.id, 'id');
  const since = values.since === undefined ? undefined : Date.now() - durationMs('since', values.since);

  const where = await queueLocation();
  await checkRedisAnswers(where.redisUrl, { source: where.source, remedy: where.remedy });
  const connection = createProducerConnection(where.redisUrl, { onError: () => {}, name: 'gradcam-jobs' });
  const queue = createExplainQueue({ connection, prefix: where.prefix, onError: () => {} });
  try {
    await connectionReady(connection);
    const found = await findFailedJobs({ connection, prefix: where.prefix, ...(since !== undefined && { since }), ...(ids && { ids }) });
    const matching = codes ? found.filter((job) => codes.includes(job.code)) : found;
    const foundIds = new Set(found.map((job) => job.id));
    const notFailed = ids?.filter((id) => !foundIds.has(id)) ?? [];
    if (notFailed.length > 0) console.error(`not in the failed set (completed, still queued, or unknown): ${notFailed.join(', ')}`);
    if (action === 'failed') return reportFailed(matching, values.json === true);
    // Bad input is retried only when asked for by code or id.
    const chosen = codes || ids ? matching : matching.filter((job) => job.exhausted);
    const leftOut = groupFailures(matching.filter((job) => !job.exhausted && !(codes || ids)));
    const dryRun = values['dry-run'] === true;
    const result = dryRun ? { retried: chosen.map((job) => job.id), notFailed: [] } : await retryFailedJobs(queue, chosen.map((job) => job.id));
    const retried = new Set(result.retried);
    const groups = groupFailures(chosen.filter((job) => retried.has(job.id)));
    if (values.json) {
      console.log(JSON.stringify({ dryRun, retried: groups.map(groupJson), noLongerFailed: result.notFailed, leftOut: leftOut.map(groupJson) }, null, 2));
      return 0;
    }
    const perCode = groups.map((group) => `${group.code} ${group.jobs.length}`).join(', ');
    console.log(retried.size === 0 ? 'no failed job to retry' : `${dryRun ? 'would retry' : 'retried'} ${plural(retried.size, 'job')} (${perCode})${dryRun ? '' : ': queued again with fresh attempts'}`);
    if (result.notFailed.length > 0) console.log(`${plural(result.notFailed.length, 'job')} had left the failed set meanwhile (retried by someone else, or trimmed): ${result.notFailed.join(', ')}`);
    for (const group of leftOut) {
      console.log(`left out: ${group.code}, ${plural(group.jobs.length, 'job')} that failed at once on bad input; name it with --code ${group.code} (or the ids with --id) once the input is fixed`);
    }
    return 0;
  } finally {
    await queue.close();
    await closeConnections(connection);
  }
}

function reportFailed(jobs: readonly FailedJob[], json: boolean): number {
  const groups = groupFailures(jobs);
  if (json) {
    console.log(JSON.stringify({ total: jobs.length, groups: groups.map(groupJson) }, null, 2));
    return 0;
  }
  if (jobs.length === 0) {
    console.log('no failed jobs');
    return 0;
  }
  console.log(`${plural(jobs.length, 'failed job')}:`);
  for (const group of groups) for (const line of groupLines(group)) console.log(line);
  const retriable = jobs.filter((job) => job.exhausted).length;
  if (retriable > 0) console.log(`\`gradcam jobs retry\` puts the ${plural(retriable, 'job')} that failed after every attempt back in the queue (--dry-run to see them first)`);
  return 0;
}
