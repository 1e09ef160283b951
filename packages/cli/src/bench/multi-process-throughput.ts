import { fileURLToPath } from 'node:url';
import type { BackendPreference } from '@gradcam/engine';
import { CpuContention } from './cpu-contention.ts';
import { type ForkedWorker, forkWorker } from './fork-worker.ts';
import { type GoMessage, type ThroughputResult, isThroughputMessage } from './worker-messages.ts';

const throughputWorker = fileURLToPath(new URL('./throughput-worker.ts', import.meta.url));

/** What each throughput child is told to do (its JSON config). */
export interface ThroughputWorkerConfig {
  readonly model: string;
  readonly backend: BackendPreference;
  readonly batch: number;
  readonly seconds: number;
  readonly warmupIterations: number;
  readonly warmupSeconds: number;
}

export interface ThroughputPlan extends ThroughputWorkerConfig {
  readonly processes: number;
  /** How long a child may take to load the model and warm up before the run is abandoned. */
  readonly readyTimeoutSeconds: number;
}

export interface ThroughputRun {
  readonly processes: number;
  /** All images / the longest child window (the windows overlap: barrier start). */
  readonly imagesPerSecond: number;
  readonly perProcessImagesPerSecond: readonly number[];
  /** Share of the machine's CPU (0…1) used by processes other than ours during the window. */
  readonly otherCpuShare: number | undefined;
  readonly results: readonly ThroughputResult[];
}

export interface ThroughputRow {
  readonly kind: 'throughput';
  readonly model: string;
  readonly backend: string;
  readonly batch: number;
  readonly seconds: number;
  readonly single: ThroughputRun;
  readonly multi: ThroughputRun;
  /** multi.imagesPerSecond / single.imagesPerSecond; ideal = processes, given as many idle cores. */
  readonly scaling: number;
  readonly leak: boolean;
}

interface Child {
  readonly worker: ForkedWorker;
  readonly ready: Promise<void>;
  readonly result: Promise<ThroughputResult>;
}

function startChild(config: ThroughputWorkerConfig, readyTimeoutMs: number): Child {
  let onReady: () => void = () => undefined;
  let onResult: (result: ThroughputResult) => void = () => undefined;
  const worker = forkWorker(throughputWorker, config, (message) => {
    if (!isThroughputMessage(message)) return;
    if (message.type === 'ready') onReady();
    else onResult(message.result);
  });
  // A child that dies rejects both promises through `exited`; a settled promise ignores the rest.
  const ready = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`throughput worker ${worker.process.pid} not ready after ${readyTimeoutMs / 1000} s`)), readyTimeoutMs);
    onReady = () => {
      clearTimeout(timer);
      resolve();
    };
    worker.exited.then(
      () => reject(new Error(`throughput worker ${worker.process.pid} exited before it was ready`)),
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
  const result = new Promise<ThroughputResult>((resolve, reject) => {
    onResult = resolve;
    worker.exited.then(() => reject(new Error(`throughput worker ${worker.process.pid} exited without a result`)), reject);
  });
  ready.catch(() => undefined);
  result.catch(() => undefined);
  return { worker, ready, result };
}

/**
 * Forks `processes` children running the same Grad-CAM loop. All load and warm up first; only when
 * every one has reported ready are they told to go, so their timed windows overlap.
 */
export async function measureThroughput(plan: ThroughputPlan, processes: number): Promise<ThroughputRun> {
  const config: ThroughputWorkerConfig = {
    model: plan.model,
    backend: plan.backend,
    batch: plan.batch,
    seconds: plan.seconds,
    warmupIterations: plan.warmupIterations,
    warmupSeconds: plan.warmupSeconds,
  };
  const children = Array.from({ length: processes }, () => startChild(config, plan.readyTimeoutSeconds * 1000));
  try {
    await Promise.all(children.map((c) => c.ready));
    const contention = new CpuContention();
    for (const c of children) c.worker.send({ type: 'go' } satisfies GoMessage);
    const results = await Promise.all(children.map((c) => c.result));
    const otherCpuShare = contention.otherShare(results.reduce((sum, r) => sum + r.cpuSeconds, 0));
    await Promise.all(children.map((c) => c.worker.exited));
    const images = results.reduce((sum, r) => sum + r.images, 0);
    const longestMs = Math.max(...results.map((r) => r.elapsedMs));
    return {
      processes,
      imagesPerSecond: images / (longestMs / 1000),
      perProcessImagesPerSecond: results.map((r) => r.images / (r.elapsedMs / 1000)),
      otherCpuShare,
      results,
    };
  } finally {
    for (const c of children) c.worker.kill();
  }
}

/** Single-process images/s, then `plan.processes` processes at once, with the same child code. */
export async function benchThroughput(plan: ThroughputPlan): Promise<ThroughputRow> {
  const single = await measureThroughput(plan, 1);
  const multi = await measureThroughput(plan, plan.processes);
  const all = [...single.results, ...multi.results];
  return {
    kind: 'throughput',
    model: plan.model,
    backend: single.results[0]?.backend ?? plan.backend,
    batch: plan.batch,
    seconds: plan.seconds,
    single,
    multi,
    scaling: multi.imagesPerSecond / single.imagesPerSecond,
    leak: all.some((r) => r.tensorsAfter !== r.tensorsBefore),
  };
}
