import { parseArgs } from 'node:util';
import { BenchArgsError, parsePositive } from './bench-args.ts';

export interface SamplingBenchArgs {
  readonly events: number;
  readonly seed: number;
  /** K of the budget policy: reviews per hour per model. */
  readonly reviewsPerHour: number;
  /** Replays of the same stream; throughput is reported as best and median of them. */
  readonly runs: number;
  /** Events of an untimed replay first, so the timed runs measure optimised code. */
  readonly warmupEvents: number;
  readonly json: boolean;
}

export const samplingBenchUsage = `Usage: npm run bench:sampling -- [options]

Replays synthetic prediction events (3 h of traffic, then 2 h at 10×, then 3 h back) through the
budget review policy: review rate per hour against K before, during and after the step, and
decisions per second on one core.

  --events N    events replayed (default 1000000)
  --seed N      PRNG seed (default 1)
  --k N         reviews per hour per model (default 120)
  --runs N      replays, for best and median throughput (default 3)
  --warmup N    events of an untimed replay first, while V8 optimises (default 200000, 0 = none)
  --json        JSON lines on stdout instead of tables
  --help`;

/** Returns undefined for --help. Throws BenchArgsError on a bad flag. */
export function parseSamplingBenchArgs(argv: readonly string[]): SamplingBenchArgs | undefined {
  const { values } = parseArgs({
    args: [...argv],
    strict: true,
    allowPositionals: false,
    options: {
      events: { type: 'string' },
      seed: { type: 'string' },
      k: { type: 'string' },
      runs: { type: 'string' },
      warmup: { type: 'string' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) return undefined;
  const events = values.events === undefined ? 1_000_000 : parsePositive('events', values.events, { integer: true, allowZero: false });
  if (events < 1000) throw new BenchArgsError('--events must be at least 1000');
  return {
    events,
    seed: values.seed === undefined ? 1 : parsePositive('seed', values.seed, { integer: true, allowZero: true }),
    reviewsPerHour: values.k === undefined ? 120 : parsePositive('k', values.k, { integer: false, allowZero: false }),
    runs: values.runs === undefined ? 3 : parsePositive('runs', values.runs, { integer: true, allowZero: false }),
    warmupEvents: values.warmup === undefined ? 200_000 : parsePositive('warmup', values.warmup, { integer: true, allowZero: true }),
    json: values.json,
  };
}
