import type { Registry } from 'prom-client';

// The IPC protocol between a parent (a supervisor) and the child processes whose metrics it sums:
// child_process.fork children and node:cluster workers alike, over their IPC channel.

/** One process's metrics as `registry.getMetricsAsJSON()` gives them (plain data: it crosses IPC). */
export type MetricsJson = Awaited<ReturnType<Registry['getMetricsAsJSON']>>;

/** Parent → child: send your metrics now. */
export const metricsRequest = 'gradcam:metrics-request';
export interface MetricsRequest {
  readonly type: typeof metricsRequest;
  readonly id: number;
}

/** Child → parent: this process's metrics; `id` names the request it answers (none: sent unasked, at start). */
export const metricsReport = 'gradcam:metrics-report';
export interface MetricsReport {
  readonly type: typeof metricsReport;
  readonly id?: number;
  readonly metrics: MetricsJson;
}

/** Child → parent: send me the sum of every process (a node:cluster worker that got the HTTP scrape). */
export const totalsRequest = 'gradcam:totals-request';
export interface TotalsRequest {
  readonly type: typeof totalsRequest;
  readonly id: number;
}

/** Parent → child: the sum, as exposition text, or why it could not be made. */
export const totalsAnswer = 'gradcam:totals-answer';
export type TotalsAnswer = { readonly type: typeof totalsAnswer; readonly id: number } & ({ readonly body: string; readonly contentType: string } | { readonly error: string });

export const isMessage = <T extends { type: string }>(message: unknown, type: T['type']): message is T =>
  typeof message === 'object' && message !== null && (message as { type?: unknown }).type === type;
