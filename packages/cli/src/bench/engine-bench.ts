import * as tf from '@tensorflow/tfjs';
import { Explainer, loadModel, selectBackend, type BackendPreference, type StageTimings } from '@gradcam/engine';
import { fixtureBatch } from './fixture-batch.ts';
import { ratioVerdict, type TargetVerdict } from './ratio-targets.ts';
import { RssSampler, processMaxRssMb } from './rss-sampler.ts';
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

export interface EngineBenchPlan {
  readonly models: readonly string[];
  readonly backends: readonly BackendPreference[];
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
  readonly forwardMsPerImage: Spread;
  readonly gradcamMsPerImage: Spread;
  /** Median (and p90) of the per-iteration ratio explain / predict, each pair measured back to back. */
  readonly ratio: Spread;
  /** median(explain) / median(predict): a cross-check of `ratio`. */
  readonly ratioOfMedians: number;
  /** Medians of the engine's own stage timings for the explain calls, ms per batch. */
  readonly stagesMsPerBatch: Omit<StageTimings, 'totalMs'>;
  readonly target: TargetVerdict | undefined;
  /** Peak RSS sampled while this cell ran, and the process-wide high-water mark at its end. */
  readonly peakRssMb: number;
  readonly processMaxRssMb: number;
  readonly tensorsBefore: number;
  readonly tensorsAfter: number;
  readonly leak: boolean;
}

interface Pair {
  readonly predictMs: number;
  readonly explainMs: number;
  readonly stages: StageTimings;
}

async function timed<T>(run: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const started = performance.now();
  const value = await run();
  return { ms: performance.now() - started, value };
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
    const e = await explain();
    return { predictMs: p.ms, explainMs: e.ms, stages: e.value.timings };
  }
  const e = await explain();
  const p = await predict();
  return { predictMs: p.ms, explainMs: e.ms, stages: e.value.timings };
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
  const rss = new RssSampler();
  const warmStart = performance.now();
  for (let i = 0; i < warmup.iterations || performance.now() - warmStart < warmup.minSeconds * 1000; i++) {
    await measurePair(explainer, inputs, i);
    rss.sample();
  }

  const tensorsBefore = tf.memory().numTensors;
  const pairs: Pair[] = [];
  const started = performance.now();
  while (!budgetDone(budget, pairs.length, performance.now() - started)) {
    pairs.push(await measurePair(explainer, inputs, pairs.length));
    rss.sample();
  }
  const tensorsAfter = tf.memory().numTensors;
  const peakRssMb = rss.stop();

  const forward = pairs.map((p) => p.predictMs / batch);
  const gradcam = pairs.map((p) => p.explainMs / batch);
  const ratio = spread(pairs.map((p) => p.explainMs / p.predictMs));
  const model = explainer.model.descriptor.name;
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
    stagesMsPerBatch: {
      forwardMs: median(pairs.map((p) => p.stages.forwardMs)),
      backwardMs: median(pairs.map((p) => p.stages.backwardMs)),
      mapsMs: median(pairs.map((p) => p.stages.mapsMs)),
    },
    target: ratioVerdict(model, backend, batch, ratio.median),
    peakRssMb,
    processMaxRssMb: processMaxRssMb(),
    tensorsBefore,
    tensorsAfter,
    leak: tensorsAfter !== tensorsBefore,
  };
}

/**
 * Every model × backend × batch of the plan, one row each, handed to `onRow` as soon as it is
 * measured (a long run shows progress). Each model is loaded after its backend is selected, so its
 * weights live on that backend, and disposed before the next.
 */
export async function benchEngine(plan: EngineBenchPlan, onRow: (row: EngineBenchRow) => void): Promise<EngineBenchRow[]> {
  const rows: EngineBenchRow[] = [];
  for (const preference of plan.backends) {
    const backend = await selectBackend(preference);
    for (const name of plan.models) {
      const model = await loadModel(name);
      try {
        const explainer = new Explainer(model);
        for (const batch of plan.batches) {
          const row = await benchBatch(explainer, backend.name, batch, plan.budget, plan.warmup);
          rows.push(row);
          onRow(row);
        }
      } finally {
        model.runner.dispose();
      }
    }
  }
  return rows;
}
