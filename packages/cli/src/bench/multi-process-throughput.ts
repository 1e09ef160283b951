import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { type ThroughputResult, type ThroughputWorkerConfig, isWorkerMessage } from './throughput-messages.ts';

const workerFile = fileURLToPath(new URL('./throughput-worker.ts', import.meta.url));
/** Absolute, so the children find tsx whatever their working directory. */
const tsxLoader = import.meta.resolve('tsx');

export interface ThroughputPlan extends ThroughputWorkerConfig {
  readonly processes: number;
  /** How long a child may take to load the model and warm up before the run is abandoned. */
  readonly readyTimeoutSeconds: number;
}

export interface ThroughputRun {
  readonly processes: number;
  /** All images / the longest child window: the children's windows overlap (barrier start). */
  readonly imagesPerSecond: number;
  readonly perProcessImagesPerSecond: readonly number[];
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
  /** multi.imagesPerSecond / single.imagesPerSecond; ideal = processes on as many idle cores. */
  readonly scaling: number;
  readonly leak: boolean;
}

interface Child {
  readonly process: ChildProcess;
  readonly ready: Promise<void>;
  readonly result: Promise<ThroughputResult>;
}

interface Deferred<T> {
  readonly promise: Promise<T>;
  readonly resolve: (value: T) => void;
  readonly reject: (error: Error) => void;
}

/** Promise.withResolvers arrived in Node 22. */
function deferred<T>(): Deferred<T> {
  let resolve: (value: T) => void = () => undefined;
  let reject: (error: Error) => void = () => undefined;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // Until someone awaits it, a rejection (the child died before "ready") must not crash us.
  promise.catch(() => undefined);
  return { promise, resolve, reject };
}

function startChild(config: ThroughputWorkerConfig, readyTimeoutMs: number): Child {
  // Children's stdout goes to our stderr so it can never corrupt --json output.
  const child = fork(workerFile, [JSON.stringify(config)], {
    execArgv: ['--import', tsxLoader],
    stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
  });
  child.stdout?.pipe(process.stderr);
  const ready = deferred<void>();
  const result = deferred<ThroughputResult>();
  // Settled promises ignore later calls, so failing after success is harmless.
  const fail = (error: Error): void => {
    clearTimeout(readyTimer);
    ready.reject(error);
    result.reject(error);
  };
  const readyTimer = setTimeout(() => fail(new Error(`throughput child ${child.pid} not ready after ${readyTimeoutMs / 1000} s`)), readyTimeoutMs);
  child.on('message', (message: unknown) => {
    if (!isWorkerMessage(message)) return;
    if (message.type === 'ready') {
      clearTimeout(readyTimer);
      ready.resolve();
    } else if (message.type === 'result') {
      result.resolve(message.result);
    } else {
      fail(new Error(`throughput child ${child.pid}: ${message.message}`));
    }
  });
  child.on('error', fail);
  child.on('exit', (code, signal) => fail(new Error(`throughput child ${child.pid} exited (${signal ?? `code ${code}`}) before reporting`)));
  return { process: child, ready: ready.promise, result: result.promise };
}

/**
 * Forks `processes` children running the same Grad-CAM loop. All load and warm up first; only when
 * every one has reported ready are they told to go, so their timed windows overlap.
 */
export async function measureThroughput(plan: ThroughputPlan, processes: number): Promise<ThroughputRun> {
  const { processes: _ignored, readyTimeoutSeconds, ...config } = plan;
  const children = Array.from({ length: processes }, () => startChild(config, readyTimeoutSeconds * 1000));
  try {
    await Promise.all(children.map((c) => c.ready));
    for (const c of children) c.process.send({ type: 'go' });
    const results = await Promise.all(children.map((c) => c.result));
    const images = results.reduce((sum, r) => sum + r.images, 0);
    const longestMs = Math.max(...results.map((r) => r.elapsedMs));
    return {
      processes,
      imagesPerSecond: images / (longestMs / 1000),
      perProcessImagesPerSecond: results.map((r) => r.images / (r.elapsedMs / 1000)),
      results,
    };
  } finally {
    for (const c of children) if (c.process.exitCode === null && c.process.signalCode === null) c.process.kill();
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
