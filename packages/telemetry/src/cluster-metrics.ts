import cluster from 'node:cluster';
import { AggregatorRegistry, type Registry } from 'prom-client';
import type { MetricsResponse } from './registry.ts';

const scrapeRequest = 'gradcam:cluster-scrape';
const scrapeAnswer = 'gradcam:cluster-scrape-answer';
const answerTimeoutMs = 10_000;

interface ScrapeRequest {
  readonly type: typeof scrapeRequest;
  readonly id: number;
}
type ScrapeAnswer = { readonly type: typeof scrapeAnswer; readonly id: number } & ({ readonly body: string; readonly contentType: string } | { readonly error: string });

const isMessage = <T extends { type: string }>(message: unknown, type: T['type']): message is T =>
  typeof message === 'object' && message !== null && (message as { type?: unknown }).type === type;

/**
 * In a cluster's primary: answers each worker's scrape request with the metrics of every
 * worker aggregated (counters and histograms summed; prom-client's per-metric rules for the
 * runtime gauges). A scrape reaches whichever process accepted the connection, so without this
 * Prometheus would see one process's counters per scrape and read the jumps as resets.
 */
export function answerClusterScrapes(): void {
  const aggregator = new AggregatorRegistry();
  cluster.on('message', (worker, message: unknown) => {
    if (!isMessage<ScrapeRequest>(message, scrapeRequest)) return;
    const answer = (fields: { body: string; contentType: string } | { error: string }) => {
      if (worker.isConnected()) worker.send({ type: scrapeAnswer, id: message.id, ...fields } satisfies ScrapeAnswer);
    };
    aggregator.clusterMetrics().then(
      (body) => answer({ body, contentType: aggregator.contentType }),
      (error: unknown) => answer({ error: error instanceof Error ? error.message : String(error) }),
    );
  });
}

/**
 * In a cluster worker: offers `registry` to the primary's aggregation and returns the scrape
 * for this worker's `/metrics` route, which asks the primary for the whole cluster's metrics.
 */
export function clusterScrape(registry: Registry): () => Promise<MetricsResponse> {
  // Constructing one attaches prom-client's listener that answers the primary's requests.
  new AggregatorRegistry();
  AggregatorRegistry.setRegistries([registry]);
  const waiting = new Map<number, (answer: ScrapeAnswer) => void>();
  let nextId = 0;
  process.on('message', (message: unknown) => {
    if (isMessage<ScrapeAnswer>(message, scrapeAnswer)) waiting.get(message.id)?.(message);
  });
  return () =>
    new Promise<MetricsResponse>((resolve, reject) => {
      const id = nextId++;
      const timer = setTimeout(() => {
        waiting.delete(id);
        reject(new Error(`the cluster primary did not answer a metrics request within ${answerTimeoutMs} ms`));
      }, answerTimeoutMs);
      waiting.set(id, (answer) => {
        clearTimeout(timer);
        waiting.delete(id);
        if ('error' in answer) reject(new Error(`aggregating the cluster's metrics failed: ${answer.error}`));
        else resolve({ body: answer.body, contentType: answer.contentType });
      });
      process.send?.({ type: scrapeRequest, id } satisfies ScrapeRequest);
    });
}
