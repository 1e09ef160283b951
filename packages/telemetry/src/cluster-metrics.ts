import cluster, { type Worker } from 'node:cluster';
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

/** One process's metrics as `registry.getMetricsAsJSON()` gives them (plain data: it crosses IPC). */
type MetricsJson = Awaited<ReturnType<Registry['getMetricsAsJSON']>>;

const metricsRequest = 'gradcam:cluster-metrics';
const metricsAnswer = 'gradcam:cluster-metrics-answer';
interface MetricsRequest {
  readonly type: typeof metricsRequest;
  readonly id: number;
}
interface MetricsAnswer {
  readonly type: typeof metricsAnswer;
  readonly id: number;
  readonly metrics: MetricsJson;
}
/** How long the primary waits for one process's metrics before it uses what that process last sent. */
const processAnswerTimeoutMs = 5_000;

/** Counters and histograms only go up: a process that is gone still accounts for what it counted. */
// prom-client types `type` as a numeric enum; the JSON holds its name.
const monotonic = (metrics: MetricsJson): MetricsJson => metrics.filter((m) => ['counter', 'histogram'].includes(String(m.type)));

/**
 * The cluster's totals, from each live process's last report and what exited processes left.
 * Every report is counted exactly once at any moment: a process's last report moves to `leaving`
 * the instant it exits, and out of `leaving` in the same tick as it lands in `retired`. A scrape
 * between the two (the fold is asynchronous) would otherwise miss it, and the totals would dip,
 * which Prometheus reads as a counter reset.
 */
export class ClusterTotals {
  private readonly lastReport = new Map<number, MetricsJson>();

  private readonly leaving = new Set<MetricsJson>();

  private retired: MetricsJson = [];

  // Folds run one after another: two exits close together must not both start from the same sum.
  private folding = Promise.resolve();

  /** Process ids that exited: ids are never reused, and a report after the exit would count twice. */
  private readonly gone = new Set<number>();

  reported(processId: number, metrics: MetricsJson): void {
    if (!this.gone.has(processId)) this.lastReport.set(processId, metrics);
  }

  /** The process is gone: its counters and histograms stay in the totals at its last report. */
  exited(processId: number): Promise<void> {
    this.gone.add(processId);
    const last = this.lastReport.get(processId);
    this.lastReport.delete(processId);
    if (!last) return this.folding;
    const kept = monotonic(last);
    this.leaving.add(kept);
    // Folded into one set as it goes, so a process that crashes daily does not grow the sum's inputs.
    this.folding = this.folding
      .then(async () => {
        const folded = (await AggregatorRegistry.aggregate([this.retired, kept]).getMetricsAsJSON()) as MetricsJson;
        this.retired = folded;
        this.leaving.delete(kept);
      })
      .catch(() => {
        // A fold that failed keeps the report in `leaving`, still counted; the next fold still runs.
      });
    return this.folding;
  }

  /** Everything counted now, aggregated (counters and histograms summed; prom-client's rules for gauges). */
  sum() {
    return AggregatorRegistry.aggregate([...this.lastReport.values(), this.retired, ...this.leaving]);
  }
}

/**
 * In a cluster's primary: answers each worker's scrape request with the metrics of every worker
 * aggregated (ClusterTotals). A scrape reaches whichever process accepted the connection, so
 * without this Prometheus would see one process's counters per scrape and read the jumps as resets.
 *
 * The counters and histograms of processes that exited (a crash the supervisor replaced) stay in
 * the sum at the last values they reported: dropping them would make every counter fall, which
 * Prometheus reads as a reset and turns into a false spike in rate() and increase(). What a process
 * counted after its last report is lost with it. A process that does not answer in time, or is
 * no longer connected, counts with its last report.
 */
export function answerClusterScrapes(): void {
  const totals = new ClusterTotals();
  cluster.on('exit', (worker) => void totals.exited(worker.id));

  const answers = new Map<number, () => void>();
  let nextId = 0;
  // Asks a process for a fresh report; settles when it answers, or after the timeout, or at once
  // when it cannot be asked (its last report stands).
  const refresh = (worker: Worker): Promise<void> =>
    new Promise((resolve) => {
      if (!worker.isConnected()) return resolve();
      const id = nextId++;
      const timer = setTimeout(() => {
        answers.delete(id);
        resolve();
      }, processAnswerTimeoutMs);
      answers.set(id, () => {
        clearTimeout(timer);
        answers.delete(id);
        resolve();
      });
      worker.send({ type: metricsRequest, id } satisfies MetricsRequest);
    });

  cluster.on('message', (worker, message: unknown) => {
    if (isMessage<MetricsAnswer>(message, metricsAnswer)) {
      // A late answer (after its request timed out) is still this process's latest report.
      totals.reported(worker.id, message.metrics);
      answers.get(message.id)?.();
      return;
    }
    if (!isMessage<ScrapeRequest>(message, scrapeRequest)) return;
    const answer = (fields: { body: string; contentType: string } | { error: string }) => {
      if (worker.isConnected()) worker.send({ type: scrapeAnswer, id: message.id, ...fields } satisfies ScrapeAnswer);
    };
    const live = Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined);
    Promise.all(live.map(refresh))
      .then(async () => {
        const registry = totals.sum();
        return { body: await registry.metrics(), contentType: registry.contentType };
      })
      .then(answer, (error: unknown) => answer({ error: error instanceof Error ? error.message : String(error) }));
  });
}

/**
 * In a cluster worker: answers the primary's requests for this process's metrics, and returns
 * the scrape for this worker's `/metrics` route, which asks the primary for the whole cluster's.
 */
export function clusterScrape(registry: Registry): () => Promise<MetricsResponse> {
  const waiting = new Map<number, (answer: ScrapeAnswer) => void>();
  let nextId = 0;
  process.on('message', (message: unknown) => {
    if (isMessage<ScrapeAnswer>(message, scrapeAnswer)) waiting.get(message.id)?.(message);
    if (isMessage<MetricsRequest>(message, metricsRequest)) {
      void registry.getMetricsAsJSON().then((metrics) => process.send?.({ type: metricsAnswer, id: message.id, metrics } satisfies MetricsAnswer));
    }
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
