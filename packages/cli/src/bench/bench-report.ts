import { availableParallelism, cpus, loadavg } from 'node:os';
import type { EngineBenchRow, Spread } from './engine-bench.ts';
import type { ThroughputRow } from './multi-process-throughput.ts';

export interface EnvironmentRow {
  readonly kind: 'environment';
  readonly node: string;
  readonly cpu: string;
  readonly cores: number;
  /** 1-minute load average when the run started: > ~0.5 means something else is using the CPU. */
  readonly loadAverage1m: number;
}

export type BenchRow = EnvironmentRow | EngineBenchRow | ThroughputRow;

export function environmentRow(): EnvironmentRow {
  return { kind: 'environment', node: process.version, cpu: cpus()[0]?.model ?? 'unknown', cores: availableParallelism(), loadAverage1m: loadavg()[0] ?? 0 };
}

const round = (n: number, digits: number): number => Number(n.toFixed(digits));

/** JSON with floats rounded to what the measurement can support. */
export function jsonLine(row: BenchRow): string {
  return JSON.stringify(row, (_key, value: unknown) => (typeof value === 'number' && !Number.isInteger(value) ? round(value, 4) : value));
}

interface Column {
  readonly title: string;
  readonly width: number;
  readonly left?: boolean;
}

const columns: readonly Column[] = [
  { title: 'model', width: 24, left: true },
  { title: 'backend', width: 7, left: true },
  { title: 'batch', width: 5 },
  { title: 'iters', width: 5 },
  { title: 'forward ms/img', width: 15 },
  { title: '+Grad-CAM ms/img', width: 16 },
  { title: 'ratio p50 (p90)', width: 15 },
  { title: 'target', width: 13, left: true },
  { title: 'fwd/bwd/maps ms/batch', width: 21 },
  { title: 'RSS MB', width: 6 },
  { title: 'others CPU', width: 10 },
  { title: 'tensors', width: 16, left: true },
];

function cells(values: readonly string[]): string {
  return values.map((v, i) => {
    const c = columns[i] as Column;
    return c.left ? v.padEnd(c.width) : v.padStart(c.width);
  }).join('  ');
}

const ms = (s: Spread): string => `${s.median.toFixed(1)} (${s.p90.toFixed(1)})`;

export function environmentLine(env: EnvironmentRow): string {
  const busy = env.loadAverage1m > 0.5 ? '  ← the machine was busy before the run: expect noise' : '';
  return `Node ${env.node}, ${env.cores} cores (${env.cpu}), load average ${env.loadAverage1m.toFixed(2)} at start${busy}`;
}

export function tableHeader(): string {
  const header = cells(columns.map((c) => c.title));
  return `${header}\n${'-'.repeat(header.length)}`;
}

export function tableLine(row: EngineBenchRow): string {
  const target = row.target ? `≤${row.target.maxRatio.toFixed(2)} ${row.target.pass ? 'PASS' : 'FAIL'}` : '-';
  const stages = row.stagesMsPerBatch;
  return cells([
    row.model,
    row.backend,
    String(row.batch),
    String(row.iterations),
    ms(row.forwardMsPerImage),
    ms(row.gradcamMsPerImage),
    `${row.ratio.median.toFixed(3)} (${row.ratio.p90.toFixed(3)})`,
    target,
    `${stages.forwardMs.toFixed(0)}/${stages.backwardMs.toFixed(1)}/${stages.mapsMs.toFixed(1)}`,
    row.peakRssMb.toFixed(0),
    row.otherCpuShare === undefined ? '?' : `${(row.otherCpuShare * 100).toFixed(0)}%`,
    `${row.tensorsBefore}→${row.tensorsAfter}${row.leak ? ' LEAK' : ''}`,
  ]);
}

export const tableFootnote =
  'ms/img: median (p90) over iterations; ratio: median (p90) of per-iteration explain/predict, the two measured back to back on the same batch in alternating order;\n' +
  'fwd/bwd/maps: medians of the engine\'s own explain stage timings; RSS: peak sampled during that row;\n' +
  'others CPU: share of all cores used by other processes during the row (noise if well above 0); tensors: tf.memory().numTensors before→after the timed iterations.';

export function throughputLines(row: ThroughputRow): string {
  const perProcess = row.multi.perProcessImagesPerSecond.map((r) => r.toFixed(1)).join(' + ');
  const batchMs = (r: ThroughputRow['single']): string => r.results.map((x) => x.msPerBatchMedian.toFixed(0)).join(', ');
  return [
    `Multi-process throughput: ${row.model} on ${row.backend}, Grad-CAM, batch ${row.batch}, ${row.seconds} s overlapping windows`,
    `  1 process    ${row.single.imagesPerSecond.toFixed(1).padStart(7)} images/s   (median ${batchMs(row.single)} ms/batch)`,
    `  ${String(row.multi.processes).padEnd(2)} processes ${row.multi.imagesPerSecond.toFixed(1).padStart(7)} images/s = ${perProcess}   (median ${batchMs(row.multi)} ms/batch)`,
    `  scaling ${row.scaling.toFixed(2)}× (ideal ${row.multi.processes}× with as many idle cores)${row.leak ? '   LEAK: a child ended with more tensors than it started with' : ''}`,
  ].join('\n');
}
