import * as tf from '@tensorflow/tfjs';
import { Explainer, loadModel, selectBackend, type BackendPreference, type StageTimings } from '@gradcam/engine';
import { CpuContention } from './cpu-contention.ts';
import { fixtureBatch } from './fixture-batch.ts';
import { ratioVerdict, type TargetVerdict } from './ratio-targets.ts';
import { peakRssMb } from './peak-rss.ts';
import { median, percentile } from './sample-statistics.ts';

/** How long to measure one model × backend × batch cell. */
export type IterationBudget =
  | { readonly kind: 'seconds'; readonly seconds: number; readonly minIterations: number; readonly maxIterations: number }
  | { readonly kind: 'iterations'; readonly iterations: number };

export interface WarmupPlan {
  /** Untimed predict + explain pairs before measuring (the first calls allocate and initialise kernels). */
  readonly iterations: number;
  /** …and keep warming up until this much time has passed. */
  readonly minSeconds: number;
}

/** One model on one backend, every batch size: what one benchmark process measures. */
export interface ModelBenchConfig {
  readonly model: string;
  readonly backend: BackendPreference;
  readonly batches: readonly number[];
  readonly budget: IterationBudget;
  readonly warmup: WarmupPlan;
}

export interface Spread {
  readonly median: number;
  readonly p90: number;
}

export interface EngineBenchRow {
  readonly kind: 'latency';
  readonly model: string;
  /** The backend that actually ran (what `auto` resolved to). */
  readonly backend: string;
  readonly batch: number;
  readonly iterations: number;
  /** Wall-clock ms per image, predict (forward only) and explain (forward + Grad-CAM). */
  readonly forwardMsPerImage: Spread;
  readonly gradcamMsPerImage: Spread;
  /** Per-iteration explain / predict wall time, the two measured back to back on the same batch. */
  readonly ratio: Spread;
  /** median(explain) / median(predict): a cross-check of `ratio`. */
  readonly ratioOfMedians: number;
  /**
   * min(explain) / min(predict). Other load only ever adds time, so the fastest run of each is the
   * closest to the machine's undisturbed speed: the most noise-resistant estimate of the overhead.
   */
  readonly ratioOfMinimums: number;
  /**
   * The same ratio in process CPU time: other processes on the machine inflate wall time but
   * hardly CPU time, so this one stays steady on a shared machine.
   */
  readonly cpuRatio: Spread;
  /** Medians of the engine's own stage timings for the explain calls, ms per batch. */
  readonly stagesMsPerBatch: Omit<StageTimings, 'totalMs'>;
  readonly target: TargetVerdict | undefined;
  readonly cpuTarget: TargetVerdict | undefined;
  /** Share of the machine's CPU (0…1) other processes used during the timed iterations: noise. */
  readonly otherCpuShare: number | undefined;
  /**
   * Peak RSS of the benchmark process up to the end of this row (batches run in ascending order,
   * one process per model × backend, and the wasm heap never shrinks: the peak at this batch size).
   */
  readonly peakRssMb: number;
  readonly tensorsBefore: number;
  readonly tensorsAfter: number;
  readonly leak: boolean;
}

interface Timed<T> {
  readonly wallMs: number;
  readonly cpuMs: number;
  readonly value: T;
}

interface Pair {
  readonly predict: Timed<unknown>;
  readonly explain: Timed<{ timings: StageTimings }>;
}

async function timed<T>(run: () => Promise<T>): Promise<Timed<T>> {
  const cpu = process.cpuUsage();
  const started = performance.now();
  const value = await run();
  const wallMs = performance.now() - started;
  const { user, system } = process.cpuUsage(cpu);
  return { wallMs, cpuMs: (user + system) / 1000, value };
}

/**
 * One predict and one explain on the same batch, back to back. The order alternates with the
 * iteration so neither call always runs right after the other's garbage or cache state.
 */
async function measurePair(explainer: Explainer, inputs: readonly Float32Array[], iteration: number): Promise<Pair> {
  const predict = () => timed(() => explainer.predict(inputs));
  const explain = () => timed(() => explainer.explain(inputs, { methods: ['gradcam'] }));
  if (iteration % 2 === 0) {
    const p = await predict();
    return { predict: p, explain: await explain() };
  }
  const e = await explain();
  return { predict: await predict(), explain: e };
}

/**
 * A full collection between iterations (workers run with --expose-gc), outside the timed calls, so
 * a major GC triggered by one call's garbage does not land at random in the other's timing.
 */
function collectGarbage(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

function spread(values: readonly number[]): Spread {
  return { median: median(values), p90: percentile(values, 90) };
}

function budgetDone(budget: IterationBudget, iterations: number, elapsedMs: number): boolean {
  if (budget.kind === 'iterations') return iterations >= budget.iterations;
  if (iterations >= budget.maxIterations) return true;
  return iterations >= budget.minIterations && elapsedMs >= budget.seconds * 1000;
}

/** Measures one batch size on an already loaded explainer (backend already selected). */
export async function benchBatch(
  explainer: Explainer,
  backend: string,
  batch: number,
  budget: IterationBudget,
  warmup: WarmupPlan,
): Promise<EngineBenchRow> {
  const [height, width] = explainer.inputShape;
  const inputs = await fixtureBatch(batch, height, width);
  const warmStart = performance.now();
  for (let i = 0; i < warmup.iterations || performance.now() - warmStart < warmup.minSeconds * 1000; i++) await measurePair(explainer, inputs, i);

  const tensorsBefore = tf.memory().numTensors;
  const contention = new CpuContention();
  const pairs: Pair[] = [];
  const started = performance.now();
  while (!budgetDone(budget, pairs.length, performance.now() - started)) {
    collectGarbage();
    pairs.push(await measurePair(explainer, inputs, pairs.length));
  }
  const tensorsAfter = tf.memory().numTensors;
  const otherCpuShare = contention.otherShare();

  const forward = pairs.map((p) => p.predict.wallMs / batch);
  const gradcam = pairs.map((p) => p.explain.wallMs / batch);
  const ratio = spread(pairs.map((p) => p.explain.wallMs / p.predict.wallMs));
  const cpuRatio = spread(pairs.map((p) => p.explain.cpuMs / p.predict.cpuMs));
  const model = explainer.model.descriptor.name;
  const stage = (key: keyof StageTimings): number => median(pairs.map((p) => p.explain.value.timings[key]));
  return {
    kind: 'latency',
    model,
    backend,
    batch,
    iterations: pairs.length,
    forwardMsPerImage: spread(forward),
    gradcamMsPerImage: spread(gradcam),
    ratio,
    ratioOfMedians: median(gradcam) / median(forward),
    ratioOfMinimums: Math.min(...gradcam) / Math.min(...forward),
    cpuRatio,
    stagesMsPerBatch: { forwardMs: stage('forwardMs'), backwardMs: stage('backwardMs'), mapsMs: stage('mapsMs') },
    target: ratioVerdict(model, backend, batch, ratio.median),
    cpuTarget: ratioVerdict(model, backend, batch, cpuRatio.median),
    otherCpuShare,
    peakRssMb: peakRssMb(),
    tensorsBefore,
    tensorsAfter,
    leak: tensorsAfter !== tensorsBefore,
  };
}

/**
 * Every batch size of one model on one backend, in ascending order, each row handed to `onRow` as
 * soon as it is measured. Meant to run in a process of its own (see latency-worker.ts), so the
 * memory figures and backend state of one model never leak into another's.
 */
export async function benchModel(config: ModelBenchConfig, onRow: (row: EngineBenchRow) => Promise<void> | void): Promise<void> {
  const backend = await selectBackend(config.backend);
  const model = await loadModel(config.model);
  try {
    const explainer = new Explainer(model);
    for (const batch of [...config.batches].sort((a, b) => a - b)) {
      await onRow(await benchBatch(explainer, backend.name, batch, config.budget, config.warmup));
    }
  } finally {
    model.runner.dispose();
  }
}
