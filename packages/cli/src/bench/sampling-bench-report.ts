import { loadavg } from 'node:os';
import { median } from './sample-statistics.ts';
import type { PhaseOutcome, ReplayResult } from './sampling-replay.ts';

/** The issue's acceptance targets; only compared with measured figures. */
export const samplingTargets = { reviewRateTolerance: 0.2, decisionsPerSecond: 1_000_000 } as const;

export interface SamplingPhaseRow {
  readonly kind: 'sampling-phase';
  readonly phase: string;
  readonly trafficPerHour: number;
  readonly measuredHours: number;
  readonly reviews: number;
  readonly reviewsPerHour: number;
  readonly k: number;
  readonly ratioToK: number;
  readonly target: string;
  readonly pass: boolean;
  readonly transientReviewsPerHour: number;
  readonly thresholdAtEnd: number;
}

export interface SamplingThroughputRow {
  readonly kind: 'sampling-throughput';
  readonly events: number;
  /** Decisions per second of wall time, per run: the figure judged against the target. */
  readonly runs: readonly number[];
  readonly best: number;
  readonly median: number;
  /** Decisions per second of this process's CPU time, per run: what other load on the machine cannot lower. */
  readonly cpuRuns: readonly number[];
  readonly cpuMedian: number;
  readonly loadAverage1m: number;
  readonly target: number;
  readonly passBest: boolean;
  readonly passMedian: boolean;
  readonly deterministic: boolean;
  readonly mapComparisonShare: number;
}

export function phaseRows(result: ReplayResult, k: number, transientHours: number): SamplingPhaseRow[] {
  return result.phases.map((p: PhaseOutcome) => {
    const reviewsPerHour = p.settledReviews / p.settledHours;
    const ratioToK = reviewsPerHour / k;
    return {
      kind: 'sampling-phase',
      phase: p.name,
      trafficPerHour: p.trafficPerHour,
      measuredHours: p.settledHours,
      reviews: p.settledReviews,
      reviewsPerHour,
      k,
      ratioToK,
      target: `K ±${samplingTargets.reviewRateTolerance * 100}%`,
      pass: Math.abs(ratioToK - 1) <= samplingTargets.reviewRateTolerance,
      transientReviewsPerHour: p.transientReviews / transientHours,
      thresholdAtEnd: p.thresholdAtEnd,
    };
  });
}

export function throughputRow(results: readonly ReplayResult[]): SamplingThroughputRow {
  const runs = results.map((r) => r.events / (r.decideMs / 1000));
  const cpuRuns = results.map((r) => r.events / (r.decideCpuMs / 1000));
  const best = Math.max(...runs);
  const mid = median(runs);
  const target = samplingTargets.decisionsPerSecond;
  return {
    kind: 'sampling-throughput',
    events: results[0]?.events ?? 0,
    runs,
    best,
    median: mid,
    cpuRuns,
    cpuMedian: median(cpuRuns),
    loadAverage1m: loadavg()[0] ?? 0,
    target,
    passBest: best >= target,
    passMedian: mid >= target,
    deterministic: results.every((r) => r.checksum === results[0]?.checksum),
    mapComparisonShare: results[0]?.mapComparisonShare ?? 0,
  };
}

const verdict = (pass: boolean): string => (pass ? 'PASS' : 'FAIL');
const int = (n: number): string => Math.round(n).toLocaleString('en-US');

export function phaseTable(rows: readonly SamplingPhaseRow[], windowMinutes: number): string {
  const header = `${'phase'.padEnd(9)}  ${'traffic/h'.padStart(9)}  ${'measured'.padStart(8)}  ${'reviews'.padStart(7)}  ${'reviews/h'.padStart(9)}  ${'K'.padStart(4)}  ${'ratio'.padStart(5)}  ${'target'.padEnd(13)}  ${`first ${windowMinutes} min`.padStart(12)}  ${'threshold'.padStart(9)}`;
  const lines = rows.map((r) =>
    [
      r.phase.padEnd(9),
      int(r.trafficPerHour).padStart(9),
      `${r.measuredHours.toFixed(2)} h`.padStart(8),
      String(r.reviews).padStart(7),
      r.reviewsPerHour.toFixed(1).padStart(9),
      String(r.k).padStart(4),
      r.ratioToK.toFixed(3).padStart(5),
      `${r.target} ${verdict(r.pass)}`.padEnd(13),
      `${r.transientReviewsPerHour.toFixed(0)}/h`.padStart(12),
      r.thresholdAtEnd.toFixed(4).padStart(9),
    ].join('  '),
  );
  return [header, '-'.repeat(header.length), ...lines].join('\n');
}

export function hourlyLine(result: ReplayResult): string {
  return `reviews per simulated hour: ${result.reviewsPerSimulatedHour.join(', ')}`;
}

export function throughputLines(row: SamplingThroughputRow): string {
  return [
    `decisions/s on one core: decideReview (priorityScore with 2 maps + budget), ${int(row.events)} events per run, ${row.runs.length} runs`,
    `  wall   best ${int(row.best).padStart(10)}   target ≥ ${int(row.target)}  ${verdict(row.passBest)}    (runs: ${row.runs.map(int).join(', ')})`,
    `  wall median ${int(row.median).padStart(10)}   target ≥ ${int(row.target)}  ${verdict(row.passMedian)}`,
    `  cpu  median ${int(row.cpuMedian).padStart(10)}   (this process's CPU time; runs: ${row.cpuRuns.map(int).join(', ')}; load average ${row.loadAverage1m.toFixed(2)} at the end)`,
    `  the top-2 maps were compared (histogram intersection, 49 cells) for ${(row.mapComparisonShare * 100).toFixed(1)}% of events: those whose runner-up is a contender`,
    `  decisions identical across runs: ${row.deterministic ? 'yes' : 'NO'}`,
  ].join('\n');
}

export const phaseFootnote = [
  'measured: from one adaptation window after the phase began to its end (the target applies there). first … min: the',
  '  transient right after a change, reviews/h over the first adaptation window, no target. threshold: the priority',
  '  threshold in force at the end of the phase.',
].join('\n');
