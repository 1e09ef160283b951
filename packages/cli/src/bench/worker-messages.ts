import type { EngineBenchRow } from './engine-bench.ts';
import { isRecord } from './worker-config-guards.ts';

/** latency-worker → parent: one measured row. */
export interface RowMessage {
  readonly type: 'row';
  readonly row: EngineBenchRow;
}

/** What one throughput child did in its timed window. */
export interface ThroughputResult {
  readonly backend: string;
  readonly images: number;
  readonly iterations: number;
  readonly elapsedMs: number;
  /** CPU seconds the child used in its window (for the contention figure). */
  readonly cpuSeconds: number;
  readonly msPerBatchMedian: number;
  readonly tensorsBefore: number;
  readonly tensorsAfter: number;
  readonly peakRssMb: number;
}

/** throughput-worker → parent: loaded and warmed up, waiting for go. Then: its result. */
export type ThroughputMessage = { readonly type: 'ready' } | { readonly type: 'result'; readonly result: ThroughputResult };

/** parent → throughput-worker: every child is ready, start the timed window now. */
export interface GoMessage {
  readonly type: 'go';
}

export function isRowMessage(value: unknown): value is RowMessage {
  return isRecord(value) && value['type'] === 'row' && isRecord(value['row']) && value['row']['kind'] === 'latency';
}

export function isThroughputMessage(value: unknown): value is ThroughputMessage {
  if (!isRecord(value)) return false;
  return value['type'] === 'ready' || (value['type'] === 'result' && isRecord(value['result']) && typeof value['result']['images'] === 'number');
}

export function isGoMessage(value: unknown): value is GoMessage {
  return isRecord(value) && value['type'] === 'go';
}
