// What a failed explain job costs Redis, and what trimming them costs, on a real redis-server:
// N jobs shaped as ingest queues them (createExplainQueue, the catalog's options) are failed by
// the queue's batching worker, as the worker fails a job on a corrupt image (permanent: one
// attempt, one stack kept) or on a fault that outlasts its 5 attempts (five stacks kept).
// Printed per failed job: MEMORY USAGE of the job's hash and its failed-set entry, and Redis's
// used_memory grown (the capped event stream left out; fixed costs such as scripts in it too). Then the failed set is trimmed as a worker does before it
// consumes (trimFailedJobs, 1,000 a script) and as BullMQ does inside a failure (all at once),
// the scripts' time from INFO commandstats and SLOWLOG. With the 1-minute load average.
// Usage: npm run bench:failed-jobs [-- N] (default 10000)
import { randomUUID } from 'node:crypto';
import { availableParallelism, loadavg } from 'node:os';
import type { ExplainJob } from '@gradcam/contracts';
import { startRedisServer } from '@gradcam/dev-services';
import {
  PermanentJobError,
  closeConnections,
  createBatchingWorker,
  createExplainQueue,
  createWorkerConnection,
  enqueueExplainJobs,
  explainJob,
  maxFailedJobsKept,
  trimFailedJobs,
} from '@gradcam/queue';
import { scriptTimes } from './redis-script-times.ts';

const n = Number(process.argv[2] ?? 10_000);
if (!(Number.isInteger(n) && n >= 100)) throw new RangeError(`N must be a whole number, at least 100, got ${process.argv[2]}`);
const server = await startRedisServer();
const connection = createWorkerConnection(server.url, { onError: () => {} });
const load = () => loadavg()[0]?.toFixed(1);
console.log(`${n} failed explain jobs per case; ${availableParallelism()} CPUs, 1-minute load average ${load()}`);

const hex = (length: number) => Array.from({ length }, () => '0123456789abcdef'[Math.floor(Math.random() * 16)]).join('');
/** A job as ingest queues it for a record with an inline image (sha256), the default model and capture. */
function ingestJob(): ExplainJob {
  const id = randomUUID();
  const folder = `nsfw-mobilenet-v2/2.0.0/dt=2026-11-30/${id}/`;
  return {
    inferenceId: id,
    model: { name: 'nsfw-mobilenet-v2', version: '2.0.0' },
    folder,
    image: { key: `${folder}input.jpg`, bytes: 41_237, sha256: hex(64) },
    explain: {},
    acceptedAt: Date.now(),
    capture: { explain: true, reason: 'all', policy: 'all' },
    fingerprint: hex(64),
  };
}

async function usedMemory(): Promise<number> {
  return Number(/^used_memory:(\d+)/m.exec(await connection.info('memory'))?.[1]);
}

/** Failed jobs under `prefix`: queued by ingest's path, failed by the batching worker; bytes per job (its hash and its failed-set entry; and used_memory grown). */
async function failJobs(prefix: string, permanent: boolean): Promise<{ perJob: number; grown: number }> {
  // Transient faults retry at once here (the catalog backs off 1–8 s): the attempts, not the wait, are measured.
  const queue = createExplainQueue({ connection, prefix, onError: () => {}, ...(permanent ? {} : { jobOptions: { backoff: { type: 'fixed', delay: 0 } } }) });
  const eventsKey = queue.toKey('events');
  const before = await usedMemory();
  const worker = createBatchingWorker<ExplainJob, never>({
    job: explainJob,
    connection,
    prefix,
    maxBatch: 8,
    maxWaitMs: 5,
    onError: () => {},
    processBatch: async (jobs) =>
      jobs.map((j) =>
        permanent
          ? new PermanentJobError('IMAGE_CORRUPT', `IMAGE_CORRUPT: decode ${j.data.folder}input.jpg: VipsJpeg: Premature end of input file`)
          : Object.assign(new Error(`STORAGE_UNAVAILABLE: put ${j.data.folder}gradcam-2.overlay.jpg: connect ECONNREFUSED 10.0.3.17:9000`), { code: 'STORAGE_UNAVAILABLE' }),
      ),
  });
  const ids: string[] = [];
  for (let start = 0; start < n; start += 500) {
    const jobs = Array.from({ length: Math.min(500, n - start) }, ingestJob);
    ids.push(...jobs.map((j) => j.inferenceId));
    await enqueueExplainJobs(queue, jobs);
  }
  for (;;) {
    if ((await queue.getFailedCount()) >= n) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  await worker.close();
  const stream = Number((await connection.memory('USAGE', eventsKey, 'SAMPLES', '0')) ?? 0);
  const grown = (await usedMemory()) - before - stream;
  const pipeline = connection.pipeline();
  for (const id of ids) pipeline.memory('USAGE', queue.toKey(id), 'SAMPLES', '0');
  const hashes = ((await pipeline.exec()) ?? []).reduce((sum, [, bytes]) => sum + Number(bytes), 0);
  const failedSet = Number(await connection.memory('USAGE', queue.toKey('failed'), 'SAMPLES', '0'));
  await queue.close();
  return { perJob: (hashes + failedSet) / n, grown: grown / n };
}

const kb = (bytes: number) => (bytes / 1000).toFixed(2);
for (const [label, permanent] of [['permanent (IMAGE_CORRUPT, 1 attempt)', true], ['transient, 5 attempts (STORAGE_UNAVAILABLE)', false]] as const) {
  const { perJob, grown } = await failJobs(`bench-${permanent ? 'p' : 't'}`, permanent);
  console.log(`${label.padEnd(44)} ${kb(perJob)} KB per failed job (MEMORY USAGE of its hash and the failed set; used_memory grew ${kb(grown)} KB a job, the event stream left out); ${maxFailedJobsKept.toLocaleString('en')} kept: ${((perJob * maxFailedJobsKept) / 1e6).toFixed(0)} MB (load ${load()})`);
}

// Trimming the permanent case's failed set: half of it by trimFailedJobs (a worker's start), a quarter by BullMQ itself.
const prefix = 'bench-p';
const keeping = (count: number) => ({ ...explainJob, options: { ...explainJob.options, removeOnFail: { age: 30 * 86_400, count } } });
let trimmed = 0;
const trim = await scriptTimes(connection, async () => (trimmed = await trimFailedJobs({ job: keeping(n / 2), connection, prefix })));
console.log(`trimFailedJobs: ${trimmed} jobs in ${trim.scripts} scripts (1,000 jobs a script at most): longest ${trim.longestMs.toFixed(1)} ms, ${((trim.scriptMs / trimmed) * 1000).toFixed(1)} µs of script time a job (load ${load()})`);
{
  const queue = createExplainQueue({ connection, prefix, onError: () => {}, jobOptions: { removeOnFail: { age: 30 * 86_400, count: n / 4 } } });
  const worker = createBatchingWorker<ExplainJob, never>({
    job: keeping(n / 4),
    connection,
    prefix,
    maxBatch: 1,
    maxWaitMs: 0,
    onError: () => {},
    processBatch: async (jobs) => jobs.map(() => new PermanentJobError('IMAGE_CORRUPT', 'IMAGE_CORRUPT: bench')),
  });
  const before = await connection.zcard(queue.toKey('failed'));
  const times = await scriptTimes(connection, async () => {
    await enqueueExplainJobs(queue, [ingestJob()]);
    while ((await connection.zcard(queue.toKey('failed'))) > n / 4) await new Promise((r) => setTimeout(r, 50));
  });
  await worker.close();
  const removed = before + 1 - n / 4;
  const longest = times.longestMs;
  console.log(`BullMQ's own trim in one failure: ${removed} jobs in one script of ${longest.toFixed(1)} ms (${((longest / removed) * 1000).toFixed(1)} µs a job) (load ${load()})`);
  await queue.close();
}
await closeConnections(connection);
await server.stop();
