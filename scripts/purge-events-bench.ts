// Erasures sent at once against a full event stream: scripts Redis runs and their own time (INFO
// commandstats, EVAL/EVALSHA) for N concurrent purges of distinct job ids, each scanning alone
// (purgeJobEvents per id) and shared by a JobEventsPurger (ingest's wiring).
// Usage: npm run bench:erasure-purge [-- N [stream entries]] (default 100 100000)
import { startRedisWithClient } from '@gradcam/dev-services';
import { JobEventsPurger, createExplainQueue, purgeJobEvents, purgeJobsEvents } from '@gradcam/queue';

const n = Number(process.argv[2] ?? 100);
const length = Number(process.argv[3] ?? 100_000);
if (!(Number.isInteger(n) && n > 0 && Number.isInteger(length) && length >= n)) throw new RangeError('N and the stream length must be whole numbers, N at most the length');
const { redis, stop } = await startRedisWithClient();
const queue = createExplainQueue({ connection: redis, prefix: 'bench', onError: () => {} });
const key = queue.toKey('events');
const ids = Array.from({ length: n }, (_, i) => `erased-${i}`);

async function fill(): Promise<void> {
  await redis.del(key);
  for (let start = 0; start < length; start += 5_000) {
    const batch = redis.pipeline();
    // The ids to erase spread through the stream, one entry each; the rest other jobs' events.
    for (let i = start; i < Math.min(start + 5_000, length); i++) batch.xadd(key, '*', 'event', 'completed', 'jobId', i % Math.floor(length / n) === 0 && i / Math.floor(length / n) < n ? ids[i / Math.floor(length / n)]! : `job-${i}`, 'returnvalue', '{"manifest":"x"}');
    await batch.exec();
  }
}

async function measure(label: string, purge: () => Promise<number[]>): Promise<void> {
  await fill();
  await redis.config('RESETSTAT');
  const deleted = (await purge()).reduce((sum, count) => sum + count, 0);
  const stats = await redis.info('commandstats');
  const of = (field: string) => [...stats.matchAll(new RegExp(`^cmdstat_eval(?:sha)?:.*?${field}=(\\d+)`, 'gm'))].reduce((sum, match) => sum + Number(match[1]), 0);
  console.log(`${label}: ${of('calls')} scripts, ${(of('usec') / 1000).toFixed(0)} ms of Redis time, ${deleted} entries deleted`);
}

await purgeJobEvents(queue, 'warm-up'); // the script loaded
console.log(`${n} concurrent purges, stream of ${length} entries`);
await measure('one scan per id (purgeJobEvents)', () => Promise.all(ids.map((id) => purgeJobEvents(queue, id))));
const purger = new JobEventsPurger((batch) => purgeJobsEvents(queue, batch));
await measure('shared scans (JobEventsPurger)', () => Promise.all(ids.map((id) => purger.purge(id))));
await queue.close();
await stop();
