import { availableParallelism, tmpdir } from 'node:os';
import { parseArgs } from 'node:util';
import { ConfigError, readLocalStackConfig, readWorkerConfig } from '@gradcam/config';
import { type BackendPreference, builtinModels } from '@gradcam/engine';
import { BenchArgsError, parseBackend, parseList, parsePositive } from './bench-args.ts';
import { parseCpuPinning } from './cpu-pinning.ts';
import { type IngestCapacityPlan, ingestTarget } from './ingest-capacity.ts';
import type { ThroughputPlan } from './multi-process-throughput.ts';
import type { E2ePlan } from './pipeline-e2e.ts';

export const pipelineParts = ['e2e', 'engine', 'ingest'] as const;
export type PipelinePart = (typeof pipelineParts)[number];

export interface PipelineBenchArgs {
  readonly parts: ReadonlySet<PipelinePart>;
  readonly e2e: E2ePlan;
  /** Engine-only Grad-CAM with the model, backend, batch and process count of `e2e`. */
  readonly engine: ThroughputPlan;
  readonly ingest: IngestCapacityPlan;
  readonly json: boolean;
  /** The services' log lines on stderr as they come (else only the last ones, on failure). */
  readonly verbose: boolean;
}

export const pipelineBenchUsage = `Usage: npm run bench:pipeline -- [options]

End-to-end explanations/s and latency through the local stack, engine-only throughput with the same
settings measured before and after it (and the ratio to their mean, with the CPU budget behind it),
then the ingest batch endpoint's capacity. Needs redis-server on PATH.

  --records N           records pushed end to end (default 1000; --quick: 100), half by reference
  --processes N         worker processes (default GRADCAM_WORKER_PROCESSES, else one per core)
  --batch N             worker micro-batch (default GRADCAM_BATCH_SIZE, else 8)
  --batch-wait-ms N     worker batch wait (default GRADCAM_BATCH_WAIT_MS, else 50)
  --render-threads N    overlay render threads per worker process (default GRADCAM_RENDER_THREADS,
                        else the cores beyond one per worker process)
  --model NAME          built-in model (default nsfw-mobilenet-v2)
  --backend NAME        auto|tensorflow-gpu|webgpu|tensorflow|wasm|cpu (default GRADCAM_BACKEND, else auto)
  --post-batch N        records per POST end to end (default 100)
  --post-concurrency N  POSTs in flight end to end (default 4)
  --engine-seconds N    engine-only timed window (default 10; --quick: 4)
  --ingest-batches a,b  records per request for the ingest part (default 100,1000)
  --ingest-clients a,b  closed loop: concurrent clients, each POSTing as soon as it is answered: the most
                        ingest accepts, at a saturated service's latency (default 1,2,4; none to skip)
  --ingest-rates a,b    open loop: records/s offered on a fixed schedule, latency counted from when each
                        request was due: the latency at that rate (default ${ingestTarget.recordsPerSecond}, the target; none to skip)
  --ingest-processes N  ingest HTTP processes (default: one per core, or per --ingest-cpus CPU)
  --ingest-store-dir D  folder for the ingest part's filesystem store (default: the OS temp folder;
                        a tmpfs such as /dev/shm leaves the disk's cost out)
  --ingest-cpus LIST    run ingest and its Redis on these CPUs only (taskset list, e.g. 0,1; Linux), and
                        the load generator on the others where there are any
  --ingest-seconds N    timed window per ingest batch size (default 10; --quick: 3)
  --parts a,b           ${pipelineParts.join(',')} (default: all)
  --quick               short smoke run
  --json                JSON lines on stdout instead of a table
  --verbose             the services' log lines on stderr
  --help`;

/** parseList, where `none` is the empty list. */
const optionalList = (value: string | undefined, fallback: readonly string[]): string[] => (value === 'none' ? [] : parseList(value, fallback));

/** The stack's own variables give the defaults, so the benchmark runs what `npm start` would. */
function environmentDefaults(): {
  processes: number;
  batch: number;
  batchWaitMs: number;
  backend: BackendPreference;
  /** The worker's default for a process count: it depends on it. */
  renderThreads: (processes: number) => number;
} {
  try {
    const stack = readLocalStackConfig(process.env);
    // Only the batching fields are read; the benchmark always starts its own private Redis.
    const workerConfig = (processes?: number) =>
      readWorkerConfig({ ...process.env, REDIS_URL: 'redis://127.0.0.1:6379', ...(processes !== undefined && { GRADCAM_WORKER_PROCESSES: String(processes) }) });
    const worker = workerConfig();
    return {
      processes: stack.workerProcesses,
      batch: worker.batchSize,
      batchWaitMs: worker.batchWaitMs,
      backend: worker.backend,
      renderThreads: (processes) => workerConfig(processes).renderThreads,
    };
  } catch (error) {
    if (error instanceof ConfigError) throw new BenchArgsError(error.message);
    throw error;
  }
}

/** Returns undefined for --help. Throws BenchArgsError on a bad flag. */
export function parsePipelineBenchArgs(argv: readonly string[]): PipelineBenchArgs | undefined {
  const { values } = parseArgs({
    args: [...argv],
    strict: true,
    allowPositionals: false,
    options: {
      records: { type: 'string' },
      processes: { type: 'string' },
      batch: { type: 'string' },
      'batch-wait-ms': { type: 'string' },
      'render-threads': { type: 'string' },
      model: { type: 'string' },
      backend: { type: 'string' },
      'post-batch': { type: 'string' },
      'post-concurrency': { type: 'string' },
      'engine-seconds': { type: 'string' },
      'ingest-batches': { type: 'string' },
      'ingest-clients': { type: 'string' },
      'ingest-rates': { type: 'string' },
      'ingest-processes': { type: 'string' },
      'ingest-store-dir': { type: 'string' },
      'ingest-seconds': { type: 'string' },
      'ingest-cpus': { type: 'string' },
      parts: { type: 'string' },
      quick: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      verbose: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) return undefined;
  const quick = values.quick;
  const ingestCpus = values['ingest-cpus'] === undefined ? undefined : parseCpuPinning(values['ingest-cpus']);
  const whole = (flag: string, value: string | undefined, fallback: number) =>
    value === undefined ? fallback : parsePositive(flag, value, { integer: true, allowZero: false });
  const seconds = (flag: string, value: string | undefined, fallback: number) =>
    value === undefined ? fallback : parsePositive(flag, value, { integer: false, allowZero: false });

  const parts = new Set(
    parseList(values.parts, pipelineParts).map((p) => {
      const part = pipelineParts.find((known) => known === p);
      if (!part) throw new BenchArgsError(`unknown part "${p}" (${pipelineParts.join(', ')})`);
      return part;
    }),
  );
  const model = values.model ?? 'nsfw-mobilenet-v2';
  const builtin = builtinModels.find((m) => m.descriptor.name === model);
  // Ingest must be told the served version (no worker announces it there): built-ins only.
  if (!builtin) throw new BenchArgsError(`unknown model "${model}" (built-ins: ${builtinModels.map((m) => m.descriptor.name).join(', ')})`);
  const defaults = environmentDefaults();
  const backend = values.backend === undefined ? defaults.backend : parseBackend(values.backend);
  const processes = whole('processes', values.processes, defaults.processes);
  const batch = whole('batch', values.batch, defaults.batch);
  const postBatch = whole('post-batch', values['post-batch'], 100);
  if (postBatch > 1000) throw new BenchArgsError('--post-batch is at most 1000 (the batch endpoint limit)');
  const ingestBatches = parseList(values['ingest-batches'], ['100', '1000']).map((b) => whole('ingest-batches', b, 0));
  if (ingestBatches.some((b) => b > 1000)) throw new BenchArgsError('--ingest-batches are at most 1000 (the batch endpoint limit)');

  return {
    parts,
    e2e: {
      model,
      backend,
      records: whole('records', values.records, quick ? 100 : 1000),
      processes,
      batch,
      batchWaitMs: values['batch-wait-ms'] === undefined ? defaults.batchWaitMs : parsePositive('batch-wait-ms', values['batch-wait-ms'], { integer: true, allowZero: true }),
      renderThreads:
        values['render-threads'] === undefined ? defaults.renderThreads(processes) : parsePositive('render-threads', values['render-threads'], { integer: true, allowZero: true }),
      postBatch,
      postConcurrency: whole('post-concurrency', values['post-concurrency'], 4),
      readyTimeoutSeconds: 300,
      stallTimeoutSeconds: 120,
    },
    engine: {
      model,
      backend,
      batch,
      seconds: seconds('engine-seconds', values['engine-seconds'], quick ? 4 : 10),
      // As bench:engine: the first ~2 s of a process run slow while V8 optimises tfjs.
      warmupIterations: quick ? 1 : 2,
      warmupSeconds: quick ? 1 : 3,
      processes,
      readyTimeoutSeconds: 300,
    },
    ingest: {
      model,
      modelVersion: builtin.descriptor.version,
      batches: ingestBatches,
      shapes: [
        ...optionalList(values['ingest-clients'], ['1', '2', '4']).map((c) => ({ kind: 'closed' as const, clients: whole('ingest-clients', c, 0) })),
        ...optionalList(values['ingest-rates'], [String(ingestTarget.recordsPerSecond)]).map((r) => ({ kind: 'paced' as const, recordsPerSecond: whole('ingest-rates', r, 0) })),
      ],
      // Pinned, one per CPU ingest may use: more would only take turns on them.
      processes: whole('ingest-processes', values['ingest-processes'], ingestCpus?.serviceCpus.length ?? availableParallelism()),
      storeDir: values['ingest-store-dir'] ?? tmpdir(),
      cpus: ingestCpus,
      seconds: seconds('ingest-seconds', values['ingest-seconds'], quick ? 3 : 10),
      warmupSeconds: quick ? 1 : 2,
    },
    json: values.json,
    verbose: values.verbose,
  };
}
