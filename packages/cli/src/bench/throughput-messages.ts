import { type BackendPreference, backendPreferences } from '@gradcam/engine';

/** What the parent hands each throughput child (one JSON argv argument). */
export interface ThroughputWorkerConfig {
  readonly model: string;
  readonly backend: BackendPreference;
  readonly batch: number;
  readonly seconds: number;
  readonly warmupIterations: number;
  readonly warmupSeconds: number;
}

export interface ThroughputResult {
  readonly images: number;
  readonly iterations: number;
  readonly elapsedMs: number;
  readonly backend: string;
  readonly msPerBatchMedian: number;
  readonly tensorsBefore: number;
  readonly tensorsAfter: number;
  readonly maxRssMb: number;
}

/** Child → parent. */
export type WorkerMessage =
  | { readonly type: 'ready' }
  | { readonly type: 'result'; readonly result: ThroughputResult }
  | { readonly type: 'error'; readonly message: string };

/** Parent → child: the barrier is released, start the timed window now. */
export interface GoMessage {
  readonly type: 'go';
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

/** Parses the child's argv config; a bad one is a programming error in the parent, so it throws. */
export function parseWorkerConfig(text: string | undefined): ThroughputWorkerConfig {
  const value: unknown = JSON.parse(text ?? 'null');
  if (!isRecord(value)) throw new Error(`throughput worker config is not an object: ${text}`);
  const { model, backend, batch, seconds, warmupIterations, warmupSeconds } = value;
  if (typeof model !== 'string' || typeof backend !== 'string' || !backendPreferences.includes(backend as BackendPreference)) {
    throw new Error(`throughput worker config needs a model and a backend: ${text}`);
  }
  for (const [name, n] of Object.entries({ batch, seconds, warmupIterations, warmupSeconds })) {
    if (typeof n !== 'number' || !(n >= 0)) throw new Error(`throughput worker config: ${name} must be a number ≥ 0, got ${String(n)}`);
  }
  return {
    model,
    backend: backend as BackendPreference,
    batch: batch as number,
    seconds: seconds as number,
    warmupIterations: warmupIterations as number,
    warmupSeconds: warmupSeconds as number,
  };
}

export function isWorkerMessage(value: unknown): value is WorkerMessage {
  if (!isRecord(value)) return false;
  if (value['type'] === 'ready') return true;
  if (value['type'] === 'error') return typeof value['message'] === 'string';
  return value['type'] === 'result' && isRecord(value['result']) && typeof value['result']['images'] === 'number';
}

export function isGoMessage(value: unknown): value is GoMessage {
  return isRecord(value) && value['type'] === 'go';
}
