import { CpuContention } from './cpu-contention.ts';
import { type CpuPinning, pinGenerator, pinnedLaunch } from './cpu-pinning.ts';
import { type LoadShape, runIngestLoad } from './ingest-load.ts';
import { startIngestRig } from './ingest-rig.ts';
import type { CleanupStack } from './pipeline-cleanup.ts';
import { type Percentiles, percentiles } from './pipeline-e2e-stats.ts';
import { TreeCpuMeter } from './pipeline-process-cpu.ts';

export interface IngestCapacityPlan {
  readonly model: string;
  /** The version ingest is told a worker serves (the built-in's). */
  readonly modelVersion: string;
  /** Records per request; each size is measured on a fresh Redis and store. */
  readonly batches: readonly number[];
  /** Closed-loop client counts, then paced rates (records/s); each is measured with each batch size. */
  readonly shapes: readonly LoadShape[];
  /** Ingest HTTP processes (GRADCAM_INGEST_PROCESSES). */
  readonly processes: number;
  /** Where the rig's filesystem store lives (a folder on the disk under test, or a tmpfs). */
  readonly storeDir: string;
  /** Ingest and its Redis on these CPUs, the load generator on the others; unpinned when undefined. */
  readonly cpus: CpuPinning | undefined;
  readonly seconds: number;
  /** Untimed load first: ingest's first requests pay for V8 and schema compilation. */
  readonly warmupSeconds: number;
}

/** The ingest target on 2 cores; only compared with what was measured. */
export const ingestTarget = { recordsPerSecond: 5_000, p99Ms: 50 } as const;

export interface IngestCapacityRow {
  readonly kind: 'ingest-capacity';
  readonly batch: number;
  readonly shape: LoadShape;
  readonly processes: number;
  readonly storeDir: string;
  /** The CPUs ingest and Redis were pinned to, if they were. */
  readonly serviceCpus: readonly number[] | undefined;
  readonly seconds: number;
  /** Every request sent, failed ones included. */
  readonly requests: number;
  readonly offered: number;
  readonly accepted: number;
  readonly rejected: number;
  readonly failedRequests: number;
  readonly firstErrors: readonly string[];
  readonly recordsPerSecond: number;
  /** Of the requests answered 200 only (failedRequests counts the rest). */
  readonly requestMs: Percentiles;
  readonly target: { readonly recordsPerSecond: number; readonly p99Ms: number; readonly pass: boolean };
  readonly coresByProcess: Readonly<Record<string, number>>;
  readonly otherCpuShare: number | undefined;
}

export interface IngestCapacityHooks {
  readonly onServiceLine: (line: string) => void;
  readonly progress: (text: string) => void;
}

/**
 * Closed-loop load measures capacity: the target is met when the records accepted per second
 * reach it with p99 in bounds. Paced load offers the target rate, and its measured rate lands
 * within a request's latency of it either way however fast the service is; what it proves is
 * that the service keeps up: every record offered at (at least) the target rate accepted, with
 * p99 in bounds counted from when each request was due, which a service falling behind cannot
 * hold. Either way, no request may fail and no record be rejected: the p99 is that of the
 * requests answered 200, and a service shedding load with fast errors must not pass on the rest.
 */
export function meetsIngestTarget(
  shape: LoadShape,
  load: { readonly offered: number; readonly accepted: number; readonly rejected: number; readonly failedRequests: number; readonly seconds: number },
  p99Ms: number,
): boolean {
  if (load.failedRequests > 0 || load.rejected > 0) return false;
  // NaN (no request answered 200) is no p99 in bounds.
  if (!(p99Ms < ingestTarget.p99Ms)) return false;
  if (shape.kind === 'paced') return shape.recordsPerSecond >= ingestTarget.recordsPerSecond && load.accepted === load.offered;
  return load.accepted / load.seconds >= ingestTarget.recordsPerSecond;
}

/** `2 clients`, `5000 records/s paced`. */
export function describeShape(shape: LoadShape): string {
  return shape.kind === 'closed' ? `${shape.clients} client${shape.clients === 1 ? '' : 's'}` : `${shape.recordsPerSecond} records/s paced`;
}

/** One batch size and load shape, on a fresh Redis and store. */
async function measure(plan: IngestCapacityPlan, batch: number, shape: LoadShape, runId: string, cleanup: CleanupStack, hooks: IngestCapacityHooks): Promise<IngestCapacityRow> {
  const what = `batches of ${batch}, ${describeShape(shape)}`;
  hooks.progress(`ingest capacity: ${what}, starting Redis + ingest…`);
  const rig = await startIngestRig(
    {
      model: plan.model,
      modelVersion: plan.modelVersion,
      processes: plan.processes,
      storeDir: plan.storeDir,
      launchPrefix: plan.cpus && pinnedLaunch(plan.cpus),
      onServiceLine: hooks.onServiceLine,
    },
    cleanup,
  );
  try {
    const load = { url: rig.url, token: rig.token, model: plan.model, images: rig.images, batch, shape };
    hooks.progress(`ingest capacity: ${what}, ${plan.warmupSeconds} s warm-up…`);
    await runIngestLoad({ ...load, seconds: plan.warmupSeconds, idPrefix: `iw-${runId}` });
    hooks.progress(`ingest capacity: ${what}, ${plan.seconds} s…`);
    const contention = new CpuContention();
    const meter = new TreeCpuMeter();
    const result = await runIngestLoad({ ...load, seconds: plan.seconds, idPrefix: `ic-${runId}` });
    const cpu = meter.read();
    const recordsPerSecond = result.accepted / result.seconds;
    const requestMs = percentiles(result.requestMs);
    const target = { ...ingestTarget, pass: meetsIngestTarget(shape, result, requestMs.p99) };
    return {
      kind: 'ingest-capacity',
      batch,
      shape,
      processes: plan.processes,
      storeDir: plan.storeDir,
      serviceCpus: plan.cpus?.serviceCpus,
      seconds: result.seconds,
      requests: result.requestMs.length + result.failedRequests,
      offered: result.offered,
      accepted: result.accepted,
      rejected: result.rejected,
      failedRequests: result.failedRequests,
      firstErrors: result.firstErrors,
      recordsPerSecond,
      requestMs,
      target,
      coresByProcess: cpu.coresByLabel,
      otherCpuShare: contention.otherShare(cpu.descendantCpuSeconds),
    };
  } finally {
    await rig.stop();
  }
}

/** Part 3: records/s the batch endpoint accepts by reference, per batch size, with Redis + ingest only. */
export async function runIngestCapacity(plan: IngestCapacityPlan, cleanup: CleanupStack, hooks: IngestCapacityHooks, onRow: (row: IngestCapacityRow) => void): Promise<IngestCapacityRow[]> {
  const rows: IngestCapacityRow[] = [];
  const runId = Date.now().toString(36);
  if (plan.cpus) pinGenerator(plan.cpus);
  for (const batch of plan.batches) {
    for (const [index, shape] of plan.shapes.entries()) {
      const row = await measure(plan, batch, shape, `${runId}-${batch}-${index}`, cleanup, hooks);
      rows.push(row);
      onRow(row);
    }
  }
  return rows;
}
