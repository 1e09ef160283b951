import { formatShare, noisyShare, throughputRunLine } from './bench-report.ts';
import { type IngestCapacityPlan, type IngestCapacityRow, describeShape, ingestTarget } from './ingest-capacity.ts';
import type { E2eRow } from './pipeline-e2e.ts';
import type { Percentiles } from './pipeline-e2e-stats.ts';
import { type CpuWindow, type EngineOnlyRow, type PipelineRatioRow, engineDriftLimit } from './pipeline-engine.ts';

/** Milliseconds in the unit a reader takes in at a glance. */
function duration(ms: number): string {
  if (!Number.isFinite(ms)) return '-';
  if (ms >= 10_000) return `${(ms / 1000).toFixed(1)} s`;
  if (ms >= 1000) return `${(ms / 1000).toFixed(2)} s`;
  return `${ms.toFixed(ms < 10 ? 1 : 0)} ms`;
}

const spread = (p: Percentiles): string => `p50 ${duration(p.p50)}  p95 ${duration(p.p95)}  p99 ${duration(p.p99)}  max ${duration(p.max)}`;
const others = (share: number | undefined): string => `others ${formatShare(share)}${share !== undefined && share > noisyShare ? ' (noisy: figures suspect)' : ''}`;

/** `worker-0 0.95, ingest 0.03, …`: largest first, those that round to zero left out. */
function byProcess(values: Readonly<Record<string, number>>, digits: number): string {
  return Object.entries(values)
    .filter(([, v]) => v >= 0.5 * 10 ** -digits)
    .sort((a, b) => b[1] - a[1])
    .map(([name, v]) => `${name} ${v.toFixed(digits)}`)
    .join(', ');
}
const cores = (values: Readonly<Record<string, number>>): string => byProcess(values, 2);

/** When an engine-only run happened, as its header and progress line say it. */
export function engineMoment(when: EngineOnlyRow['when']): string {
  switch (when) {
    case 'before-e2e':
      return 'before the stack starts';
    case 'after-e2e':
      return 'stack stopped';
    case 'standalone':
      return 'no stack run';
  }
}

const counts = (byKey: Readonly<Record<string, number>>): string =>
  Object.entries(byKey)
    .map(([key, n]) => `${key} ${n}`)
    .join(', ') || 'none';

export function e2eLines(row: E2eRow): string {
  const { plan, submit, rates, latency } = row;
  const failed = Object.values(row.failures).reduce((a, b) => a + b, 0);
  const lines = [
    `End to end: ${plan.model} on ${row.backend ?? plan.backend}, Grad-CAM, batch ${plan.batch} (wait ${plan.batchWaitMs} ms), ${plan.processes} worker process${plan.processes === 1 ? '' : 'es'} (${plan.renderThreads} render thread${plan.renderThreads === 1 ? '' : 's'} each), ${plan.records} records (every other one inline, the rest by reference), ${plan.postBatch} per POST, ${plan.postConcurrency} POSTs in flight`,
    `  submitted    ${submit.queued} queued, ${submit.skipped} skipped, ${submit.rejected} rejected in ${duration(submit.seconds * 1000)} (${submit.posts} POSTs: p50 ${duration(submit.postMs.p50)}, max ${duration(submit.postMs.max)})`,
    ...submit.firstErrors.map((e) => `               rejected: ${e}`),
    `  finished     ${row.completed} done, ${failed} failed${failed > 0 ? ` (${counts(row.failures)})` : ''}${row.unaccounted > 0 ? `, ${row.unaccounted} unaccounted` : ''} per BullMQ; GET /v1/inferences/{id} for all ${row.verification.checked}: ${counts(row.verification.byStatus)}`,
    ...(row.problems.length > 0 ? [`  NOT CLEAN    ${row.problems.join('; ')}: the figures below are not comparable with a clean run's`] : []),
    `  throughput   ${rates.explanationsPerSecond.toFixed(1)} explanations/s end to end (first POST → last manifest stored: ${duration(rates.seconds * 1000)})`,
  ];
  if (rates.steady) {
    const s = rates.steady;
    lines.push(
      `               ${s.explanationsPerSecond.toFixed(1)} explanations/s steady (${s.completions} manifests in ${duration(s.seconds * 1000)}, from the ${s.fromCompletion}th stored until the queue ran dry)`,
    );
  } else {
    lines.push('               steady rate: too few completions between the first batches and the queue running dry (use more --records)');
  }
  lines.push(`  latency      accepted → stored ${spread(latency.endToEndMs)}   (per job, from the BullMQ return values)`);
  if (latency.inWorkerMs) lines.push(`               taken from the queue → stored ${spread(latency.inWorkerMs)}   (incl. the wait in a worker's prefetched batches; the rest is queue wait: the records arrive as a burst)`);
  if (row.stages) {
    const m = row.stages.medianSeconds;
    const cpu = row.stages.engineCpuMsPerImage;
    lines.push(
      `  batches      ${row.stages.batches}, mean size ${row.stages.meanBatchSize.toFixed(1)}; median per batch: decode ${duration(m.decode * 1000)}, engine ${duration(m.engine * 1000)}, render ${duration(m.render * 1000)}, upload ${duration(m.upload * 1000)}`,
      ...(cpu === undefined ? [] : [`               engine calls: ${cpu.toFixed(1)} ms of the workers' main-thread CPU per image (compare engine-only CPU per image below)`]),
    );
  }
  lines.push(`  CPU (cores)  ${cores(row.coresByProcess)}; ${others(row.otherCpuShare)}`);
  return lines.join('\n');
}

export function engineLines(row: EngineOnlyRow): string {
  return [
    `Engine only (${engineMoment(row.when)}): ${row.model} on ${row.backend}, Grad-CAM, batch ${row.batch}, ${row.seconds} s overlapping windows (bench:engine's throughput workers)`,
    throughputRunLine(`${row.run.processes} process${row.run.processes === 1 ? '' : 'es'}`, row.run),
    ...(row.leak ? ['  LEAK: a child ended with more tensors than it started with'] : []),
  ].join('\n');
}

function cpuWindowText(window: CpuWindow): string {
  const span = `${window.explanations} manifests in ${duration(window.seconds * 1000)}`;
  return window.basis === 'steady' ? `steady window: ${span}` : `whole run, warm-up and drain included: ${span}`;
}

export function ratioLine(row: PipelineRatioRow): string {
  const other = row.basis === 'steady' ? ` (end to end ${row.endToEndRatio.toFixed(2)})` : '';
  const [pipeline, engine] = row.otherCpuShares;
  // Other load slows the two parts by different amounts, so a noisy ratio can err either way.
  const noisy = [pipeline, engine].some((s) => s !== undefined && s > noisyShare);
  const drifted = row.engineDrift !== undefined && row.engineDrift > engineDriftLimit;
  const doubts = [
    ...(noisy ? [`others took ${formatShare(pipeline)} / ${formatShare(engine)} of the CPU during the parts`] : []),
    ...(drifted ? [`engine-only throughput moved ${((row.engineDrift ?? 0) * 100).toFixed(0)}% between its two runs`] : []),
  ];
  const verdict =
    row.notComparableBecause.length > 0
      ? `NOT COMPARABLE (end to end: ${row.notComparableBecause.join('; ')})`
      : `${row.pass ? 'PASS' : 'FAIL'}${doubts.length > 0 ? `? (${doubts.join('; ')}: rerun on a quiet machine)` : ''}`;
  const against = row.engineDrift === undefined ? '' : ` against the mean of the two engine-only runs (they differ by ${(row.engineDrift * 100).toFixed(0)}%)`;
  const { cpu } = row;
  const split = byProcess(cpu.pipelineMsByProcess, 1);
  return [
    `Pipeline / engine: ${row.ratio.toFixed(2)} ${row.basis}${other}${against}; target ≥ ${row.target.toFixed(2)}: ${verdict}`,
    `  CPU per image: engine alone ${cpu.engineMsPerImage.toFixed(1)} ms; pipeline ${cpu.pipelineMsPerExplanation.toFixed(1)} ms (${split}; ${cpuWindowText(cpu.pipelineWindow)}); ratio ${cpu.ratio.toFixed(2)}, which the throughput ratio tends to when every core is busy`,
  ].join('\n');
}

const loadWidth = 20;

export function ingestHeader(plan: IngestCapacityPlan): string {
  const header = `${'batch'.padStart(5)}  ${'load'.padEnd(loadWidth)}  ${'requests'.padStart(8)}  ${'records/s'.padStart(9)}  ${'p50 ms'.padStart(7)}  ${'p99 ms'.padStart(7)}  ${'max ms'.padStart(7)}  ${'target'.padEnd(6)}  CPU cores`;
  const pinned = plan.cpus
    ? [
        `  Redis and ingest pinned to CPU ${plan.cpus.serviceCpus.join(',')}; the load generator ${plan.cpus.generatorCpus.length > 0 ? `on CPU ${plan.cpus.generatorCpus.join(',')}` : 'shares them (no other CPUs)'}`,
      ]
    : [];
  return [
    `Ingest capacity: POST /v1/inferences:batch, records by reference, Redis + ${plan.processes} ingest process${plan.processes === 1 ? '' : 'es'} (no worker), ${plan.seconds} s after ${plan.warmupSeconds} s warm-up, store in ${plan.storeDir}`,
    ...pinned,
    `  target ≥ ${ingestTarget.recordsPerSecond} records/s with p99 < ${ingestTarget.p99Ms} ms per request (2 cores); load: closed-loop clients, or records/s offered`,
    `  on a schedule (paced; latency counts from when each request was due, so a service that falls behind shows it). records/s: accepted from`,
    `  the first request (paced: when it was due) to the last answer; a paced row passes when every record offered was accepted within the p99.`,
    `  No row passes with a failed request or a rejected record; latencies are of the requests answered 200, the failed ones counted apart`,
    `  ${header}`,
  ].join('\n');
}

/** How far a row is from the target, in words; empty when it meets it. */
function shortfall(row: IngestCapacityRow): string {
  const misses: string[] = [];
  if (row.failedRequests > 0) misses.push(`${row.failedRequests} of ${row.requests} requests failed`);
  if (row.shape.kind === 'paced') {
    if (row.shape.recordsPerSecond < ingestTarget.recordsPerSecond) misses.push(`offered ${row.shape.recordsPerSecond} records/s, below the ${ingestTarget.recordsPerSecond} records/s target`);
    if (row.accepted < row.offered) misses.push(`${row.offered - row.accepted} of ${row.offered} records offered not accepted`);
  } else {
    if (row.rejected > 0) misses.push(`${row.rejected} records rejected`);
    if (row.recordsPerSecond < ingestTarget.recordsPerSecond) misses.push(`${((1 - row.recordsPerSecond / ingestTarget.recordsPerSecond) * 100).toFixed(0)}% below ${ingestTarget.recordsPerSecond} records/s`);
  }
  if (row.requestMs.p99 >= ingestTarget.p99Ms) misses.push(`p99 ${(row.requestMs.p99 / ingestTarget.p99Ms).toFixed(1)}× the ${ingestTarget.p99Ms} ms limit`);
  return misses.join('; ');
}

export function ingestLine(row: IngestCapacityRow): string {
  const cells = [
    String(row.batch).padStart(5),
    describeShape(row.shape).padEnd(loadWidth),
    String(row.requests).padStart(8),
    row.recordsPerSecond.toFixed(0).padStart(9),
    row.requestMs.p50.toFixed(1).padStart(7),
    row.requestMs.p99.toFixed(1).padStart(7),
    row.requestMs.max.toFixed(1).padStart(7),
    (row.target.pass ? 'PASS' : 'MISS').padEnd(6),
    `${cores(row.coresByProcess)}; ${others(row.otherCpuShare)}`,
  ].join('  ');
  const notes = [
    ...(row.target.pass ? [] : [`misses by: ${shortfall(row)}`]),
    ...(row.failedRequests > 0 || row.rejected > 0
      ? [`${row.failedRequests} failed requests (not in the latencies), ${row.rejected} records not accepted: ${row.firstErrors.join(' | ')}`]
      : []),
  ];
  return [`  ${cells}`, ...notes.map((n) => `  ${''.padStart(5)}  ${n}`)].join('\n');
}

export const pipelineFootnote = [
  'Throughput counts manifests stored (BullMQ completed jobs); latency is per job from acceptedAt (ingest) to storedAt (worker), as the',
  '  completed jobs return them. CPU (cores): average cores each of our processes used over the part; others: share of all cores',
  `  used by processes not ours (above ${noisyShare * 100}% the figures are noisy). Engine only runs the same Grad-CAM call on fixture photos`,
  '  already decoded, so the ratio is what decode, render, storage, queue and the other services cost the workers. CPU per image:',
  '  all CPU of each engine-only child over its timed window, and of each stack process over the steady window (else the whole part),',
  '  divided by the images explained in it.',
].join('\n');
