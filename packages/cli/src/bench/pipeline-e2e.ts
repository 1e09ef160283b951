import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { type LocalStackConfig, readLocalStackConfig } from '@gradcam/config';
import type { BackendPreference } from '@gradcam/engine';
import { IngestClient } from '../local-stack/ingest-client.ts';
import { startLocalStack } from '../local-stack/local-stack.ts';
import { CpuContention } from './cpu-contention.ts';
import type { CleanupStack } from './pipeline-cleanup.ts';
import { e2eProblems } from './pipeline-e2e-problems.ts';
import { type E2eLatency, type E2eRates, type Percentiles, type SteadyRate, type WorkerStages, e2eLatency, e2eRates, percentiles, workerStages } from './pipeline-e2e-stats.ts';
import { benchRecord, storeFixtureImages } from './pipeline-fixtures.ts';
import { type CompletedJob, connectRedis, readJobResults, waitForJobs } from './pipeline-job-results.ts';
import { StackPorts } from './pipeline-ports.ts';
import type { CpuWindow } from './pipeline-engine.ts';
import { TreeCpuTimeline, type TreeCpuUsage } from './pipeline-process-cpu.ts';
import { submitRecords } from './pipeline-submit.ts';
import { type Verification, verifyThroughApi } from './pipeline-verify.ts';

export interface E2ePlan {
  readonly model: string;
  readonly backend: BackendPreference;
  readonly records: number;
  readonly processes: number;
  readonly batch: number;
  readonly batchWaitMs: number;
  /** Overlay render threads per worker process. */
  readonly renderThreads: number;
  /** Records per POST, and POSTs in flight. */
  readonly postBatch: number;
  readonly postConcurrency: number;
  readonly readyTimeoutSeconds: number;
  /** Give up when no job finishes for this long. */
  readonly stallTimeoutSeconds: number;
}

export interface E2eRow {
  readonly kind: 'pipeline-e2e';
  readonly plan: E2ePlan;
  /** The backend the workers' manifests name. */
  readonly backend: string | undefined;
  readonly submit: { readonly seconds: number; readonly posts: number; readonly postMs: Percentiles; readonly queued: number; readonly skipped: number; readonly rejected: number; readonly firstErrors: readonly string[] };
  readonly completed: number;
  readonly failures: Readonly<Record<string, number>>;
  readonly unaccounted: number;
  readonly verification: Verification;
  /** Why not every record submitted was explained (see e2eProblems); empty for a clean run. */
  readonly problems: readonly string[];
  readonly rates: E2eRates;
  readonly latency: E2eLatency;
  readonly stages: WorkerStages | undefined;
  /** Average cores used per process role over submit + processing, and everyone else's share. */
  readonly coresByProcess: Readonly<Record<string, number>>;
  /**
   * CPU milliseconds per explanation stored, by process role (the bench itself left out), over
   * the steady window when there is one (as the engine-only figure it is compared with), else
   * over the whole part.
   */
  readonly cpuMsPerExplanation: Readonly<Record<string, number>>;
  readonly cpuWindow: CpuWindow;
  readonly otherCpuShare: number | undefined;
}

export interface E2eHooks {
  readonly onServiceLine: (line: string) => void;
  readonly progress: (text: string) => void;
  readonly counter: (text: string) => void;
}

/** The load generator (this process) is not part of the pipeline's cost. */
function perExplanation({ coresByLabel, seconds }: TreeCpuUsage, explanations: number): Record<string, number> {
  if (explanations === 0) return {};
  return Object.fromEntries(Object.entries(coresByLabel).filter(([label]) => label !== 'bench').map(([label, cores]) => [label, (cores * seconds * 1000) / explanations]));
}

/** CPU per explanation over the steady window where the timeline covers it, else over the whole part. */
function cpuPerExplanation(timeline: TreeCpuTimeline, whole: TreeCpuUsage, jobs: readonly CompletedJob[], steady: SteadyRate | undefined): Pick<E2eRow, 'cpuMsPerExplanation' | 'cpuWindow'> {
  const span = steady && timeline.within(steady.from, steady.to);
  if (span) {
    const explanations = jobs.filter((j) => j.storedAt > span.from && j.storedAt <= span.to).length;
    return { cpuMsPerExplanation: perExplanation(span.usage, explanations), cpuWindow: { basis: 'steady', seconds: span.usage.seconds, explanations } };
  }
  return { cpuMsPerExplanation: perExplanation(whole, jobs.length), cpuWindow: { basis: 'whole run', seconds: whole.seconds, explanations: jobs.length } };
}

/**
 * The stack reads these from the environment; they are set explicitly so the run is what the flags
 * say, and so that nothing it writes lands in this shell's own store (GRADCAM_STORAGE_DIR, S3_*):
 * the state dir, and everything in it, is removed when the part ends.
 */
export function stackEnvironment(plan: E2ePlan, stateDir: string): Record<string, string> {
  return {
    GRADCAM_BATCH_SIZE: String(plan.batch),
    GRADCAM_BATCH_WAIT_MS: String(plan.batchWaitMs),
    GRADCAM_RENDER_THREADS: String(plan.renderThreads),
    GRADCAM_MODELS: plan.model,
    GRADCAM_BACKEND: plan.backend,
    GRADCAM_CAPTURE_POLICY: 'all',
    GRADCAM_MAX_QUEUE_DEPTH: String(1_000_000_000),
    GRADCAM_QUEUE_PREFIX: queuePrefix,
    GRADCAM_STORAGE_PREFIX: '',
    // Empty is unset: the filesystem store, whatever S3 settings this shell carries.
    S3_BUCKET: '',
    S3_ENDPOINT: '',
    // A path, not '': this environment is spread over the one the stack builds for its services,
    // so an empty value would reach them and replace the path the stack chose.
    GRADCAM_STORAGE_DIR: join(stateDir, 'storage'),
  };
}

const queuePrefix = 'gradcam';

/**
 * The stack as `npm start` would configure it from this environment, except: a private Redis,
 * the filesystem store and a generated token in a temporary state dir, the plan's process count,
 * and a free port for every service (any `…Port`, so services added to the stack later cannot
 * collide with an `npm start` running beside the benchmark either).
 */
async function benchStackConfig(plan: E2ePlan, stateDir: string): Promise<LocalStackConfig> {
  const base = readLocalStackConfig(process.env);
  const stackPorts = new StackPorts();
  const ports: Record<string, number> = {};
  for (const [key, value] of Object.entries(base)) {
    if (key.endsWith('Port') && typeof value === 'number') ports[key] = await stackPorts.one();
  }
  return {
    ...base,
    ...ports,
    redisUrl: undefined,
    apiTokens: [],
    eraseTokens: [],
    workerProcesses: plan.processes,
    stateDir,
    s3Configured: false,
  };
}

/**
 * Part 1: starts the local stack in a temporary state dir, pushes `plan.records` records through
 * the batch endpoint (half by reference to pre-stored photos, half inline), waits for every job and
 * reads the per-job timestamps from BullMQ. Stops the stack and removes its files before returning.
 */
export async function runE2e(plan: E2ePlan, cleanup: CleanupStack, hooks: E2eHooks): Promise<E2eRow> {
  const stateDir = await mkdtemp(join(tmpdir(), 'gradcam-bench-stack-'));
  const removeStateDir = cleanup.push('remove the stack state dir', () => rm(stateDir, { recursive: true, force: true }));
  try {
    const config = await benchStackConfig(plan, stateDir);
    hooks.progress(`starting the local stack (${plan.processes} worker processes)…`);
    const readyMs = plan.readyTimeoutSeconds * 1000;
    // Ready once every worker process is: the worker's one /readyz answers for all of them.
    const stack = await startLocalStack({ config, env: stackEnvironment(plan, stateDir), onLine: hooks.onServiceLine, readyTimeoutMs: readyMs });
    const stopStack = cleanup.push('stop the local stack', () => stack.stop());
    try {
      if (stack.storageDir === undefined) throw new Error('the local stack is not using the filesystem store');
      // Everything below writes into the store and is only removed with the state dir.
      if (relative(stateDir, stack.storageDir).startsWith('..')) throw new Error(`the local stack's store ${stack.storageDir} is outside its temporary state dir ${stateDir}`);
      const images = await storeFixtureImages(stack.storageDir);
      const runId = Date.now().toString(36);
      // Alternate inline and by reference, so both kinds are spread over the whole run.
      const records = Array.from({ length: plan.records }, (_, i) => benchRecord(images, plan.model, `pb-${runId}-${i}`, i >> 1, i % 2 === 1));
      const redis = await connectRedis(stack.redisUrl);
      const closeRedis = cleanup.push('close the Redis client', async () => redis.disconnect());
      try {
        const client = new IngestClient({ baseUrl: stack.ingestUrl, token: stack.token, onRetry: (reason, waitMs) => hooks.progress(`${reason}; retrying in ${(waitMs / 1000).toFixed(1)} s`) });
        const contention = new CpuContention();
        const timeline = new TreeCpuTimeline();
        const stopTimeline = cleanup.push('stop the CPU timeline', async () => timeline.stop());
        hooks.progress(`pushing ${plan.records} records…`);
        const submitted = await submitRecords(client, records, plan.postBatch, plan.postConcurrency);
        const expected = submitted.queued.length;
        const finished = await waitForJobs(redis, queuePrefix, expected, plan.stallTimeoutSeconds * 1000, (n) => hooks.counter(`explained ${n}/${expected}`));
        await stopTimeline();
        const cpu = timeline.whole();
        const otherCpuShare = contention.otherShare(cpu.descendantCpuSeconds);
        const results = await readJobResults(redis, queuePrefix, submitted.queued);
        const rates = e2eRates(results.completed, submitted.startedAt, plan.processes, plan.batch, finished.queueEmptyAt);
        hooks.progress(`checking ${expected} ids through GET /v1/inferences/{id}…`);
        const verification = await verifyThroughApi(client, submitted.queued);
        return {
          kind: 'pipeline-e2e',
          plan,
          backend: verification.backend,
          submit: {
            seconds: submitted.seconds,
            posts: submitted.postMs.length,
            postMs: percentiles(submitted.postMs),
            queued: expected,
            skipped: submitted.skipped,
            rejected: submitted.rejected,
            firstErrors: submitted.firstErrors,
          },
          completed: results.completed.length,
          failures: results.failures,
          unaccounted: results.unaccounted,
          verification,
          problems: e2eProblems({ rejected: submitted.rejected, failures: results.failures, unaccounted: results.unaccounted, verifiedStatuses: verification.byStatus }),
          rates,
          latency: e2eLatency(results.completed),
          stages: workerStages(results.completed),
          coresByProcess: cpu.coresByLabel,
          ...cpuPerExplanation(timeline, cpu, results.completed, rates.steady),
          otherCpuShare,
        };
      } finally {
        await closeRedis();
      }
    } finally {
      hooks.progress('stopping the local stack…');
      await stopStack();
    }
  } finally {
    await removeStateDir();
  }
}
