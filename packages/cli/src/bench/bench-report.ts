import { availableParallelism, cpus, loadavg } from 'node:os';
import type { EngineBenchRow, Spread } from './engine-bench.ts';
import type { ThroughputRow, ThroughputRun } from './multi-process-throughput.ts';

export interface EnvironmentRow {
  readonly kind: 'environment';
  readonly node: string;
  readonly cpu: string;
  readonly cores: number;
  readonly loadAverage1m: number;
}

export type BenchRow = EnvironmentRow | EngineBenchRow | ThroughputRow;

export function environmentRow(): EnvironmentRow {
  return { kind: 'environment', node: process.version, cpu: cpus()[0]?.model ?? 'unknown', cores: availableParallelism(), loadAverage1m: loadavg()[0] ?? 0 };
}

/** JSON with floats rounded to what the measurement can support (any benchmark's rows). */
export function jsonLine(row: { readonly kind: string }): string {
  return JSON.stringify(row, (_key, value: unknown) => (typeof value === 'number' && !Number.isInteger(value) ? Number(value.toFixed(4)) : value));
}

interface Column {
  readonly title: string;
  readonly width: number;
  readonly left?: boolean;
}

const columns: readonly Column[] = [
  { title: 'model', width: 23, left: true },
  { title: 'backend', width: 7, left: true },
  { title: 'batch', width: 5 },
  { title: 'iters', width: 5 },
  { title: 'forward ms/img', width: 15 },
  { title: '+Grad-CAM ms/img', width: 16 },
  { title: 'ratio p50 (p90)', width: 15 },
  { title: 'min ratio', width: 9 },
  { title: 'target', width: 11, left: true },
  { title: 'fwd/bwd/maps ms', width: 16 },
  { title: 'others', width: 6 },
  { title: 'RSS MB', width: 6 },
  { title: 'tensors', width: 9, left: true },
];

function cells(values: readonly string[]): string {
  return values
    .map((v, i) => {
      const c = columns[i] as Column;
      return c.left ? v.padEnd(c.width) : v.padStart(c.width);
    })
    .join('  ')
    .trimEnd();
}

const ms = (s: Spread): string => `${s.median.toFixed(1)} (${s.p90.toFixed(1)})`;
/** A 0…1 share as a whole percentage, '?' where unknown. */
export const formatShare = (s: number | undefined): string => (s === undefined ? '?' : `${(s * 100).toFixed(0)}%`);
/** Other processes above this share of the machine make a row's wall-clock figures suspect. */
export const noisyShare = 0.1;
/**
 * The median and min ratios agree within ~0.01 on a steady machine; a wider gap means one of the
 * calls ran in a slow spell for a good part of the row (seen with nothing else running), so the
 * median is not to be trusted on its own.
 */
const unsteadyRatioGap = 0.02;

export function environmentLine(env: EnvironmentRow): string {
  return `Node ${env.node}, ${env.cores} cores (${env.cpu}), load average ${env.loadAverage1m.toFixed(2)} at start`;
}

export function tableHeader(): string {
  const header = cells(columns.map((c) => c.title));
  return `${header}\n${'-'.repeat(header.length)}`;
}

export function tableLine(row: EngineBenchRow): string {
  const unsteady = Math.abs(row.ratio.median - row.ratioOfMinimums) > unsteadyRatioGap ? '?' : '';
  const target = row.target ? `≤${row.target.maxRatio.toFixed(2)} ${row.target.pass ? 'PASS' : 'FAIL'}${unsteady}` : unsteady || '-';
  const stages = row.stagesMsPerBatch;
  const noisy = row.otherCpuShare !== undefined && row.otherCpuShare > noisyShare ? '!' : '';
  return cells([
    row.model,
    row.backend,
    String(row.batch),
    String(row.iterations),
    ms(row.forwardMsPerImage),
    ms(row.gradcamMsPerImage),
    `${row.ratio.median.toFixed(3)} (${row.ratio.p90.toFixed(3)})`,
    row.ratioOfMinimums.toFixed(3),
    target,
    `${stages.forwardMs.toFixed(0)}/${stages.backwardMs.toFixed(1)}/${stages.mapsMs.toFixed(1)}`,
    `${formatShare(row.otherCpuShare)}${noisy}`,
    row.peakRssMb.toFixed(0),
    `${row.tensorsBefore}→${row.tensorsAfter}${row.leak ? ' LEAK' : ''}`,
  ]);
}

export const tableFootnote = [
  'ms/img: wall-clock median (p90) over iterations. ratio: median (p90) of per-iteration explain/predict, the two measured back to back on the',
  '  same batch in alternating order. min ratio: fastest explain / fastest predict, the estimate least moved by noise (which only adds time).',
  `  target: the issue's wasm MobileNetV2 targets, judged on the median ratio ("?": median and min ratio differ by > ${unsteadyRatioGap}, rerun).`,
  "  fwd/bwd/maps: medians of the engine's own explain stage timings, ms per batch. others: share of all cores used by other processes",
  `  while the row ran ("!" above ${noisyShare * 100}%: wall figures are noisy). RSS: the process's peak. tensors: tf.memory().numTensors`,
  '  before→after the timed iterations.',
].join('\n');

/** One throughput run: images/s, per process, median ms per batch, others' CPU share. */
export function throughputRunLine(label: string, run: ThroughputRun): string {
  const perProcess = run.processes > 1 ? ` = ${run.perProcessImagesPerSecond.map((r) => r.toFixed(1)).join(' + ')}` : '';
  const batchMs = run.results.map((r) => r.msPerBatchMedian.toFixed(0)).join(', ');
  return `  ${label.padEnd(12)} ${run.imagesPerSecond.toFixed(1).padStart(6)} images/s${perProcess}   (median ms/batch: ${batchMs}; others ${formatShare(run.otherCpuShare)})`;
}

export function throughputLines(row: ThroughputRow): string {
  return [
    `Multi-process throughput: ${row.model} on ${row.backend}, Grad-CAM, batch ${row.batch}, ${row.seconds} s overlapping windows`,
    throughputRunLine('1 process', row.single),
    throughputRunLine(`${row.multi.processes} processes`, row.multi),
    `  scaling ${row.scaling.toFixed(2)}× (ideal ${row.multi.processes}× on as many idle cores)${row.leak ? '   LEAK: a child ended with more tensors than it started with' : ''}`,
  ].join('\n');
}
