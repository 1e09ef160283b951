// The review page's "N waiting" (ReviewPool.backlog) with N pending items of another model, older
// than the one item of the model asked for: the Lua script's own time from Redis's commandstats,
// median of 5, filtered and unfiltered. Usage: npm run bench:review-backlog [-- N] (default 200000)
import { startRedisWithClient } from '@gradcam/dev-services';
import { ReviewPool } from '@gradcam/review-pool';
import { testItem } from '../packages/review-pool/src/test-item.ts';

const others = Number(process.argv[2] ?? 200_000);
if (!Number.isInteger(others) || others < 0) throw new RangeError(`N must be a whole number, got ${process.argv[2]}`);
const { redis, stop } = await startRedisWithClient();
const pool = new ReviewPool(redis, 'bench');
for (let start = 0; start < others; start += 2_000) {
  const adds = [];
  for (let i = start; i < Math.min(start + 2_000, others); i++) adds.push(pool.add(testItem(`n-${i}`, 0.5, 'n', 1_000 + i)));
  await Promise.all(adds);
}
await pool.add(testItem('m-1', 0.5, 'm', 10_000_000));

/** The script's own time (EVAL/EVALSHA usec in INFO commandstats), so the client's round trip is left out. */
async function scriptMs(call: () => Promise<unknown>): Promise<number> {
  await redis.config('RESETSTAT');
  await call();
  const stats = await redis.info('commandstats');
  return [...stats.matchAll(/^cmdstat_eval(?:sha)?:.*usec=(\d+)/gm)].reduce((sum, match) => sum + Number(match[1]), 0) / 1000;
}

console.log(`review pool with ${others} pending items of model n and 1 of model m`);
for (const [label, call] of [
  ['backlog(model=m)', () => pool.backlog(20_000_000, 'm')],
  ['backlog(model=n)', () => pool.backlog(20_000_000, 'n')],
  ['backlog()', () => pool.backlog(20_000_000)],
] as const) {
  const times: number[] = [];
  for (let run = 0; run < 5; run++) times.push(await scriptMs(call));
  times.sort((a, b) => a - b);
  console.log(`${label.padEnd(18)} script ms: median ${times[2]?.toFixed(2)}, min ${times[0]?.toFixed(2)}, max ${times[4]?.toFixed(2)}`);
}
await stop();
