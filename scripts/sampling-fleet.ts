/**
 * `npm run bench:sampling-fleet [-- workers perHour K minutes seed]`: a fleet of worker review
 * samplers (services/worker's, each with its own budget) starting together on one real Redis
 * (started here on a free port), sharing synthetic traffic round robin on a simulated clock, each
 * recording its decisions and refreshing the fleet's rate and thresholds every 10 simulated
 * seconds as the worker does. Prints the reviews of the first minute, of the first 10 minutes and
 * of the rest against the budget K. Defaults: 4 workers, 36,000 events/h, K = 120/h, 40 minutes,
 * seed 1, all whole numbers; the fleet starts 30 s into a minute. Ctrl-C stops Redis and removes its
 * temporary directory.
 */
import type { ReviewItem } from '@gradcam/contracts';
import { startRedisWithClient } from '@gradcam/dev-services';
import { ReviewPool } from '@gradcam/review-pool';
import { CleanupStack, cleanUpOnSignals } from '../packages/cli/src/bench/pipeline-cleanup.ts';
import { SyntheticEventSource } from '../packages/cli/src/bench/sampling-traffic.ts';
import { createReviewSampler } from '../services/worker/src/review-sampler.ts';

const positional = process.argv.slice(2);
const [workers = 4, perHour = 36_000, k = 120, minutes = 40, seed = 1] = positional.map(Number);
// Whole numbers: workers and minutes size arrays and take turns, and a fractional one fails deep in the run.
if (positional.length > 5 || ![workers, perHour, k, minutes, seed].every((n) => Number.isSafeInteger(n) && n > 0) || minutes < 11) {
  process.stderr.write(`usage: npm run bench:sampling-fleet -- [workers perHour K minutes seed], whole numbers > 0, minutes ≥ 11 (got: ${positional.join(' ') || 'nothing'})\n`);
  process.exit(2);
}
const refreshMs = 10_000;
const cleanup = new CleanupStack();
const report = (line: string) => process.stderr.write(`${line}\n`);
// Ctrl-C or a kill stops Redis and removes its temporary directory before exiting (130/143).
cleanUpOnSignals(cleanup, report);
const starting = startRedisWithClient();
// Registered before Redis is up, so a signal during its start still stops it once it is.
cleanup.push('stop Redis and remove its directory', () => starting.then(({ stop }) => stop(), () => undefined));
const { redis } = await starting;
try {
  const prefix = `fleet${Date.now().toString(36)}`;
  const start = Date.UTC(2026, 10, 27, 12, 0, 30);
  let now = start;
  const samplers = Array.from({ length: workers }, () => createReviewSampler({ policy: `budget=${k}`, redis, prefix, pool: new ReviewPool(redis, prefix), now: () => now }));
  const source = new SyntheticEventSource([{ name: 'steady', startMs: start, endMs: start + minutes * 60_000, events: Math.round((perHour * minutes) / 60), perHour }], seed);
  const perMinute = new Array<number>(minutes).fill(0);
  let nextRefresh = start + refreshMs;
  let turn = 0;
  while (source.remaining > 0) {
    for (const input of source.chunk(500)) {
      const at = Math.round(input.now);
      for (; at >= nextRefresh; nextRefresh += refreshMs) {
        now = nextRefresh;
        await Promise.all(samplers.map((s) => s.refreshFleetRate()));
      }
      now = at;
      const sampler = samplers[turn++ % workers] as (typeof samplers)[number];
      const decision = sampler.decide({ ...input, now: at });
      const item: ReviewItem = { inferenceId: input.id, model: input.model, modelVersion: 'v1', folder: `${input.model}/v1/dt=2026-11-27/${input.id}/`, predictedClass: input.predictedClass, label: String(input.predictedClass), probability: input.probabilities[input.predictedClass] ?? 0, sampling: decision, sampledAt: at, status: 'pending' };
      await sampler.recorded(decision, item);
      const minute = Math.floor((at - start) / 60_000);
      if (decision.sampled) perMinute[minute] = (perMinute[minute] ?? 0) + 1;
    }
  }
  for (const s of samplers) s.close();
  const sum = (values: readonly number[]) => values.reduce((a, b) => a + b, 0);
  const timesK = (reviews: number, span: number) => (reviews / ((k * span) / 60)).toFixed(2);
  process.stdout.write(`${workers} workers, ${perHour} events/h, K = ${k}/h, seed ${seed}: reviews per minute ${perMinute.join(' ')}\n`);
  process.stdout.write(`first minute ${perMinute[0]} (K: ${(k / 60).toFixed(1)}); first 10 minutes ${timesK(sum(perMinute.slice(0, 10)), 10)} × K; minutes 10–${minutes} ${timesK(sum(perMinute.slice(10)), minutes - 10)} × K\n`);
} finally {
  await cleanup.runAll(report);
}
