import type { Registry } from 'prom-client';
import {
  type MetricsReport,
  type MetricsRequest,
  type TotalsAnswer,
  type TotalsRequest,
  isMessage,
  metricsReport,
  metricsRequest,
  totalsAnswer,
  totalsRequest,
} from './process-metrics-messages.ts';
import type { MetricsResponse } from './registry.ts';

/** How long a cluster worker waits for its parent's sum before its scrape fails. */
const totalsTimeoutMs = 10_000;

function sendToParent(message: MetricsReport | TotalsRequest): void {
  // The callback takes the error of a channel that closed meanwhile (the parent is gone).
  if (process.connected) process.send?.(message, undefined, undefined, () => {});
}

/**
 * In a child process (forked by a supervisor, or a node:cluster worker): sends this registry's
 * metrics to the parent now, and again whenever it asks (`ChildProcessMetrics`). Returns false,
 * and does nothing, in a process without an IPC channel.
 */
export function reportMetricsToParent(registry: Registry): boolean {
  if (process.send === undefined) return false;
  const report = (id?: number) =>
    void registry.getMetricsAsJSON().then(
      (metrics) => sendToParent({ type: metricsReport, ...(id !== undefined && { id }), metrics }),
      // Unanswered, the parent counts this process with its last report.
      () => {},
    );
  process.on('message', (message: unknown) => {
    if (isMessage<MetricsRequest>(message, metricsRequest)) report(message.id);
  });
  // Unasked: until a process has reported, the parent does not wait for it.
  report();
  return true;
}

/**
 * In a node:cluster worker: reports this registry to the primary (`reportMetricsToParent`), and
 * returns the scrape for this worker's `/metrics` route, which asks the primary for the whole
 * cluster's sum. A scrape reaches whichever process accepted the connection, so without this
 * Prometheus would see one process's counters per scrape and read the jumps as resets.
 */
export function clusterScrape(registry: Registry): () => Promise<MetricsResponse> {
  reportMetricsToParent(registry);
  const waiting = new Map<number, (answer: TotalsAnswer) => void>();
  let nextId = 0;
  process.on('message', (message: unknown) => {
    if (isMessage<TotalsAnswer>(message, totalsAnswer)) waiting.get(message.id)?.(message);
  });
  return () =>
    new Promise<MetricsResponse>((resolve, reject) => {
      const id = nextId++;
      const timer = setTimeout(() => {
        waiting.delete(id);
        reject(new Error(`the cluster primary did not answer a metrics request within ${totalsTimeoutMs} ms`));
      }, totalsTimeoutMs);
      waiting.set(id, (answer) => {
        clearTimeout(timer);
        waiting.delete(id);
        if ('error' in answer) reject(new Error(`aggregating the cluster's metrics failed: ${answer.error}`));
        else resolve({ body: answer.body, contentType: answer.contentType });
      });
      sendToParent({ type: totalsRequest, id });
    });
}
