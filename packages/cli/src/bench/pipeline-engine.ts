import { type ThroughputPlan, type ThroughputRun, measureThroughput } from './multi-process-throughput.ts';

export interface EngineOnlyRow {
  readonly kind: 'pipeline-engine';
  /**
   * Measured on either side of the end-to-end part, so drift in the machine's speed shows; or
   * alone, when the end-to-end part was not asked for (no stack ran).
   */
  readonly when: 'before-e2e' | 'after-e2e' | 'standalone';
  readonly model: string;
  readonly backend: string;
  readonly batch: number;
  readonly seconds: number;
  readonly run: ThroughputRun;
  /** The children's process CPU (every thread) per image. */
  readonly cpuMsPerImage: number;
  readonly leak: boolean;
}

/**
 * Part 2: Grad-CAM alone in `plan.processes` processes at once (bench:engine's throughput children,
 * barrier-started), with the pipeline's model, backend and batch, and nothing else running.
 */
export async function runEngineOnly(plan: ThroughputPlan, when: EngineOnlyRow['when']): Promise<EngineOnlyRow> {
  const run = await measureThroughput(plan, plan.processes);
  return {
    kind: 'pipeline-engine',
    when,
    model: plan.model,
    backend: run.results[0]?.backend ?? plan.backend,
    batch: plan.batch,
    seconds: plan.seconds,
    run,
    cpuMsPerImage: (run.results.reduce((sum, r) => sum + r.cpuSeconds, 0) * 1000) / Math.max(1, run.results.reduce((sum, r) => sum + r.images, 0)),
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
  /** Meets the target, and the end-to-end run explained every record it was given. */
  readonly pass: boolean;
  /** The end-to-end run's problems (failed, rejected, … records): non-empty, the ratio is not comparable and not judged. */
  readonly notComparableBecause: readonly string[];
  /** Other processes' CPU share during the pipeline and the engine-only parts. */
  readonly otherCpuShares: readonly [number | undefined, number | undefined];
  /** |before − after| / mean of the engine-only rates when both were measured. */
  readonly engineDrift: number | undefined;
  readonly cpu: CpuBudget;
}

/** Above this, the machine's speed changed between the parts and the ratio is suspect. */
export const engineDriftLimit = 0.1;

/**
 * Where the ratio goes: CPU per image of the engine alone against CPU per explanation of all the
 * pipeline's processes. When every core is busy, throughput is cores ÷ CPU per image, so the
 * throughput ratio tends to `engineMs / pipelineMs`; the split says which process spends the rest.
 */
export interface CpuBudget {
  readonly engineMsPerImage: number;
  readonly pipelineMsPerExplanation: number;
  readonly pipelineMsByProcess: Readonly<Record<string, number>>;
  /** The part of the end-to-end run the pipeline's CPU was taken over. */
  readonly pipelineWindow: CpuWindow;
  readonly ratio: number;
}

export interface CpuWindow {
  readonly basis: 'steady' | 'whole run';
  readonly seconds: number;
  readonly explanations: number;
}

export interface RatioInputs {
  readonly endToEnd: number;
  readonly steady: number | undefined;
  /** Engine-only runs (before and after the end-to-end part); the ratio uses their mean. */
  readonly engine: readonly EngineOnlyRow[];
  readonly pipelineOtherCpuShare: number | undefined;
  readonly pipelineCpuMsByProcess: Readonly<Record<string, number>>;
  readonly pipelineCpuWindow: CpuWindow;
  /** e2eProblems of the end-to-end run. */
  readonly pipelineProblems: readonly string[];
}

const mean = (values: readonly number[]): number => values.reduce((a, b) => a + b, 0) / values.length;

function cpuBudget(engineMsPerImage: number, pipelineMsByProcess: Readonly<Record<string, number>>, pipelineWindow: CpuWindow): CpuBudget {
  const pipelineMsPerExplanation = Object.values(pipelineMsByProcess).reduce((a, b) => a + b, 0);
  return { engineMsPerImage, pipelineMsPerExplanation, pipelineMsByProcess, pipelineWindow, ratio: engineMsPerImage / pipelineMsPerExplanation };
}

export function pipelineRatio({ endToEnd, steady, engine: runs, pipelineOtherCpuShare, pipelineCpuMsByProcess, pipelineCpuWindow, pipelineProblems }: RatioInputs): PipelineRatioRow {
  const rates = runs.map((r) => r.run.imagesPerSecond);
  const engine = mean(rates);
  const endToEndRatio = endToEnd / engine;
  const steadyRatio = steady === undefined ? undefined : steady / engine;
  const engineShares = runs.map((r) => r.run.otherCpuShare).filter((s): s is number => s !== undefined);
  const otherCpuShares = [pipelineOtherCpuShare, engineShares.length > 0 ? Math.max(...engineShares) : undefined] as const;
  const ratio = steadyRatio ?? endToEndRatio;
  return {
    kind: 'pipeline-ratio',
    basis: steadyRatio === undefined ? 'end-to-end' : 'steady',
    ratio,
    endToEndRatio,
    steadyRatio,
    target: pipelineRatioTarget,
    pass: pipelineProblems.length === 0 && ratio >= pipelineRatioTarget,
    notComparableBecause: pipelineProblems,
    otherCpuShares,
    engineDrift: rates.length > 1 ? (Math.max(...rates) - Math.min(...rates)) / engine : undefined,
    cpu: cpuBudget(mean(runs.map((r) => r.cpuMsPerImage)), pipelineCpuMsByProcess, pipelineCpuWindow),
  };
}
