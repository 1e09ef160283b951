import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import { type BackendPreference, backendPreferences, builtinModels } from '@gradcam/engine';
import type { ThroughputPlan } from './multi-process-throughput.ts';
import type { EngineBenchPlan } from './run-engine-bench.ts';

export interface BenchArgs {
  readonly engine: EngineBenchPlan;
  /** Undefined with --processes 0. */
  readonly throughput: ThroughputPlan | undefined;
  readonly json: boolean;
}

export const benchUsage = `Usage: npm run bench:engine -- [options]

Forward-only vs forward + Grad-CAM per model × backend × batch, then multi-process throughput.

  --models a,b        models (built-in names or model directories)
                      default: nsfw-mobilenet-v2,nsfw-mobilenet-v2-graph
  --backends a,b      ${backendPreferences.join('|')}; default: auto (the one the engine picks)
  --batches 1,8,32    batch sizes (default 1,8,32; --quick: 1,8)
  --seconds N         time budget per measurement (default 12; --quick: 2), at least 5 iterations (--quick: 3)
  --iterations N      fixed number of timed iterations instead of --seconds
  --warmup N          untimed iterations first (default 2, and at least 3 s; --quick: 1, and at least 1 s)
  --processes N       processes for the throughput part (default ${availableParallelism()}, 0 = skip it)
  --throughput-seconds N  timed window of each throughput run (default 10; --quick: 4)
  --quick             short smoke run
  --json              one JSON object per row on stdout instead of a table
  --help`;

export class BenchArgsError extends Error {
  override readonly name = 'BenchArgsError';
}

/** A comma-separated flag value, or `fallback` when the flag was not given. */
export function parseList(value: string | undefined, fallback: readonly string[]): string[] {
  if (value === undefined) return [...fallback];
  const items = value.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
  if (items.length === 0) throw new BenchArgsError(`empty list "${value}"`);
  return items;
}

/** A flag's number, checked: throws BenchArgsError naming the flag. */
export function parsePositive(flag: string, value: string, { integer, allowZero }: { integer: boolean; allowZero: boolean }): number {
  const n = Number(value);
  const ok = Number.isFinite(n) && (allowZero ? n >= 0 : n > 0) && (!integer || Number.isInteger(n));
  if (!ok) throw new BenchArgsError(`--${flag} must be a ${integer ? 'whole ' : ''}number ${allowZero ? '≥ 0' : '> 0'}, got "${value}"`);
  return n;
}

export function parseBackend(value: string): BackendPreference {
  const found = backendPreferences.find((b) => b === value);
  if (!found) throw new BenchArgsError(`unknown backend "${value}" (${backendPreferences.join(', ')})`);
  return found;
}

const defaultModels = ['nsfw-mobilenet-v2', 'nsfw-mobilenet-v2-graph'];
/** The multi-process part always uses batch 8, the production micro-batch size. */
const throughputBatch = 8;

/** Returns undefined for --help. Throws BenchArgsError on a bad flag. */
export function parseBenchArgs(argv: readonly string[]): BenchArgs | undefined {
  const { values } = parseArgs({
    args: [...argv],
    strict: true,
    allowPositionals: false,
    options: {
      models: { type: 'string' },
      backends: { type: 'string' },
      batches: { type: 'string' },
      seconds: { type: 'string' },
      iterations: { type: 'string' },
      warmup: { type: 'string' },
      processes: { type: 'string' },
      'throughput-seconds': { type: 'string' },
      quick: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) return undefined;
  const quick = values.quick;
  if (values.seconds !== undefined && values.iterations !== undefined) throw new BenchArgsError('give --seconds or --iterations, not both');

  const models = parseList(values.models, defaultModels);
  const known = new Set(builtinModels.map((m) => m.descriptor.name));
  const backends = parseList(values.backends, ['auto']).map(parseBackend);
  const batches = parseList(values.batches, quick ? ['1', '8'] : ['1', '8', '32']).map((b) => parsePositive('batches', b, { integer: true, allowZero: false }));
  const budget: EngineBenchPlan['budget'] =
    values.iterations === undefined
      ? {
          kind: 'seconds',
          seconds: values.seconds === undefined ? (quick ? 2 : 12) : parsePositive('seconds', values.seconds, { integer: false, allowZero: false }),
          minIterations: quick ? 3 : 5,
          maxIterations: 100_000,
        }
      : { kind: 'iterations', iterations: parsePositive('iterations', values.iterations, { integer: true, allowZero: false }) };
  const warmup = {
    iterations: values.warmup === undefined ? (quick ? 1 : 2) : parsePositive('warmup', values.warmup, { integer: true, allowZero: true }),
    // The first ~2 s of calls in a process run ~10% slow while V8 optimises tfjs's JavaScript.
    minSeconds: quick ? 1 : 3,
  };
  const processes = values.processes === undefined ? availableParallelism() : parsePositive('processes', values.processes, { integer: true, allowZero: true });
  const throughputSeconds =
    values['throughput-seconds'] === undefined ? (quick ? 4 : 10) : parsePositive('throughput-seconds', values['throughput-seconds'], { integer: false, allowZero: false });
  const firstModel = models[0] as string;
  const firstBackend = backends[0] as BackendPreference;
  for (const m of models) {
    // Model directories are allowed; only a bare word that is no built-in is surely a typo.
    if (!known.has(m) && !m.includes('/')) throw new BenchArgsError(`unknown model "${m}" (built-ins: ${[...known].join(', ')}; or a path to a model directory)`);
  }
  return {
    engine: { models, backends, batches, budget, warmup },
    throughput:
      processes === 0
        ? undefined
        : {
            model: firstModel,
            backend: firstBackend,
            batch: throughputBatch,
            seconds: throughputSeconds,
            warmupIterations: warmup.iterations,
            warmupSeconds: warmup.minSeconds,
            processes,
            readyTimeoutSeconds: 300,
          },
    json: values.json,
  };
}

/**
 * Parses a benchmark's flags: the parsed arguments, or the exit status once usage (0) or the
 * error (2) has been printed.
 */
export function benchArgsOrExit<Args extends object>(parse: (argv: readonly string[]) => Args | undefined, usage: string): Args | number {
  try {
    const args = parse(process.argv.slice(2));
    if (args === undefined) {
      process.stdout.write(`${usage}\n`);
      return 0;
    }
    return args;
  } catch (error) {
    if (error instanceof BenchArgsError || (error instanceof TypeError && 'code' in error)) {
      process.stderr.write(`${error.message} (see --help)\n`);
      return 2;
    }
    throw error;
  }
}
