// What the review pool's two rebuilds cost on a real redis-server, with N pending items:
// - the sort of a pool written before the lanes (`:pool`, id → priority) by the first lease after
//   an upgrade, which waits for it: alone, and with C leases asked at once;
// - the hourly indexing of one model's pending index by its next backlog call, which waits for it.
// Printed: the caller's wall time, the scripts Redis ran (INFO commandstats) and the longest of
// them (SLOWLOG), with the 1-minute load average. Usage: npm run bench:review-rebuild [-- N [C]]
// (default 20000 8; the README quotes 20,000 for the sort and 200,000 for the indexing).
import { availableParallelism, loadavg } from 'node:os';
import { type ReviewItem, redisKeys } from '@gradcam/contracts';
import { startRedisWithClient } from '@gradcam/dev-services';
import { ReviewPool } from '@gradcam/review-pool';
import { testItem } from '../packages/review-pool/src/test-item.ts';
import { type ScriptTimes, scriptTimes } from './redis-script-times.ts';

const n = Number(process.argv[2] ?? 20_000);
const concurrent = Number(process.argv[3] ?? 8);
if (!(Number.isInteger(n) && n > 0 && Number.isInteger(concurrent) && concurrent > 0)) throw new RangeError('N and C must be whole numbers above 0');
const { redis, stop } = await startRedisWithClient();
let run = 0;

/** N items of model m as add() wrote them before the lanes: item and state apart, the pool as id → priority. */
async function fillAsBefore(prefix: string): Promise<void> {
  for (let start = 0; start < n; start += 5_000) {
    const batch = redis.pipeline();
    for (let i = start; i < Math.min(start + 5_000, n); i++) {
      const { status: _status, ...fixed }: ReviewItem = testItem(`i-${i}`, (i % 997) / 997, 'm', 1_000 + i);
      batch.set(`${prefix}:review:item:${fixed.inferenceId}`, JSON.stringify(fixed));
      batch.set(`${prefix}:review:state:${fixed.inferenceId}`, JSON.stringify({ status: 'pending' }));
      batch.zadd(`${prefix}:review:index`, fixed.sampledAt, fixed.inferenceId);
      for (const key of ['pool', 'pool:m']) batch.zadd(`${prefix}:review:${key}`, fixed.sampling.priority, fixed.inferenceId);
      batch.zadd(`${prefix}:review:pending-age`, fixed.sampledAt, fixed.inferenceId);
    }
    await batch.exec();
  }
  for (const key of ['broken', 'skips']) await redis.hincrby(`${prefix}:review:${key}`, 'm', 0);
}

/** Runs `call`: its wall time, and the scripts Redis ran meanwhile. */
async function measure(call: () => Promise<unknown>): Promise<ScriptTimes & { wallMs: number }> {
  const started = performance.now();
  let wallMs = 0;
  const times = await scriptTimes(redis, async () => {
    await call();
    wallMs = performance.now() - started;
  });
  return { ...times, wallMs };
}

const show = (label: string, m: Awaited<ReturnType<typeof measure>>) =>
  console.log(`${label.padEnd(46)} ${(m.wallMs / 1000).toFixed(2)} s wall, ${m.scripts} scripts, ${m.scriptMs.toFixed(0)} ms of script time, longest ${m.longestMs.toFixed(1)} ms (load ${loadavg()[0]?.toFixed(1)})`);

console.log(`review pool rebuilds with ${n} pending items of one model; ${availableParallelism()} CPUs, 1-minute load average ${loadavg()[0]?.toFixed(1)}`);

// The first lease after an upgrade sorts the old pool into the lanes before it leases.
{
  const prefix = `sort-${++run}`;
  await fillAsBefore(prefix);
  const pool = new ReviewPool(redis, prefix);
  show('sort before the lanes, 1 lease', await measure(() => pool.lease('alice', 60_000)));
}
{
  const prefix = `sort-${++run}`;
  await fillAsBefore(prefix);
  const pool = new ReviewPool(redis, prefix);
  const walls: number[] = [];
  const m = await measure(() => Promise.all(Array.from({ length: concurrent }, async (_, i) => {
    const started = performance.now();
    await pool.lease(`r${i}`, 60_000);
    walls.push(performance.now() - started);
  })));
  show(`sort before the lanes, ${concurrent} leases at once`, m);
  console.log(`${''.padEnd(46)} each lease waited ${(Math.min(...walls) / 1000).toFixed(2)}–${(Math.max(...walls) / 1000).toFixed(2)} s`);
}

// The hourly indexing: a pool of this version, its model's last full indexing an hour old.
{
  const prefix = `index-${++run}`;
  const pool = new ReviewPool(redis, prefix);
  for (let start = 0; start < n; start += 2_000) {
    const adds = [];
    for (let i = start; i < Math.min(start + 2_000, n); i++) adds.push(pool.add(testItem(`i-${i}`, 0.5, 'm', 1_000 + i)));
    await Promise.all(adds);
  }
  const keys = redisKeys(prefix);
  await pool.backlog(Date.now(), 'm'); // the first look stamps the model's hour
  const [seconds] = await redis.time();
  await redis.set(keys.reviewModelIndexed('m'), Number(seconds) * 1000 - 3_600_000 - 1_000);
  await redis.del(keys.reviewModelIndexing('m'));
  show('hourly indexing of the model, 1 backlog call', await measure(() => pool.backlog(Date.now(), 'm')));
}
await stop();
