import { type ThroughputPlan, type ThroughputRun, measureThroughput } from './multi-process-throughput.ts';

export interface EngineOnlyRow {
  readonly kind: 'pipeline-engine';
  readonly model: string;
  readonly backend: string;
  readonly batch: number;
  readonly seconds: number;
  readonly run: ThroughputRun;
  readonly leak: boolean;
}

/**
 * Part 2: Grad-CAM alone in `plan.processes` processes at once (bench:engine's throughput children,
 * barrier-started), with the pipeline's model, backend and batch, and nothing else running.
 */
export async function runEngineOnly(plan: ThroughputPlan): Promise<EngineOnlyRow> {
  const run = await measureThroughput(plan, plan.processes);
  return {
    kind: 'pipeline-engine',
    model: plan.model,
    backend: run.results[0]?.backend ?? plan.backend,
    batch: plan.batch,
    seconds: plan.seconds,
    run,
    leak: run.results.some((r) => r.tensorsAfter !== r.tensorsBefore),
  };
}

/** The target for what the pipeline keeps of the engine's throughput. */
export const pipelineRatioTarget = 0.9;

export interface PipelineRatioRow {
  readonly kind: 'pipeline-ratio';
  /** Judged on the steady-state rate when there is one (engine-only has no warm-up or drain either). */
  readonly basis: 'steady' | 'end-to-end';
  readonly ratio: number;
  readonly endToEndRatio: number;
  readonly steadyRatio: number | undefined;
  readonly target: number;
  readonly pass: boolean;
  /** Other processes' CPU share during the pipeline and the engine-only parts. */
  readonly otherCpuShares: readonly [number | undefined, number | undefined];
}

export interface RatioInputs {
  readonly endToEnd: number;
  readonly steady: number | undefined;
  readonly engine: number;
  readonly otherCpuShares: readonly [number | undefined, number | undefined];
}

export function pipelineRatio({ endToEnd, steady, engine, otherCpuShares }: RatioInputs): PipelineRatioRow {
  const endToEndRatio = endToEnd / engine;
  const steadyRatio = steady === undefined ? undefined : steady / engine;
  const ratio = steadyRatio ?? endToEndRatio;
  return {
    kind: 'pipeline-ratio',
    basis: steadyRatio === undefined ? 'end-to-end' : 'steady',
    ratio,
    endToEndRatio,
    steadyRatio,
    target: pipelineRatioTarget,
    pass: ratio >= pipelineRatioTarget,
    otherCpuShares,
  };
}
