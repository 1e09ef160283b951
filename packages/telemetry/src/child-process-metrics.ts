import type { ChildProcess } from 'node:child_process';
import type { Registry } from 'prom-client';
import { ClusterTotals } from './cluster-totals.ts';
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
import { type MetricsResponse, metricsResponse } from './registry.ts';

export interface ChildProcessMetricsOptions {
  /** The parent's own registry, added to every sum as it is at that moment (none: children only). */
  readonly own?: Registry;
  /** How long a collection waits for one child's fresh report before it uses the last one (5 s). */
  readonly answerTimeoutMs?: number;
}

/**
 * In a supervisor: the sum of its child processes' metrics, each child's registry read over its
 * IPC channel (the child calls `reportMetricsToParent` or `clusterScrape`). The same for both
 * kinds of child: `child_process.fork`'s ChildProcess, and node:cluster's `worker.process`, which
 * is one too. Wrap the supervisor's spawn in `track`.
 *
 * The counters and histograms of children that exited (a crash the supervisor replaced) stay in
 * the sum at the last values they reported (ClusterTotals): dropping them would make every
 * counter fall, which Prometheus reads as a reset and turns into a false spike in rate() and
 * increase(). What a child counted after its last report is lost with it. A child that does not
 * answer in time counts with its last report; one that has not reported yet (still starting) is
 * not asked, so a scrape does not wait on a process that cannot answer.
 */
export class ChildProcessMetrics {
  private readonly totals = new ClusterTotals();
  /** Children that have reported at least once and not exited, by the key `track` gave them. */
  private readonly answering = new Map<number, ChildProcess>();
  private readonly pending = new Map<number, { readonly child: number; readonly settle: () => void }>();
  private readonly answerTimeoutMs: number;
  private nextChild = 0;
  private nextRequest = 0;

  private readonly options: ChildProcessMetricsOptions;

  constructor(options: ChildProcessMetricsOptions = {}) {
    this.options = options;
    this.answerTimeoutMs = options.answerTimeoutMs ?? 5_000;
  }

  /** Counts `child` from now on: its reports, its exit, its requests for the sum. Returns it. */
  track<C extends ChildProcess>(child: C): C {
    // Not the pid: pids are reused, and a report kept for an exited child must not be overwritten.
    const key = this.nextChild++;
    let exited = false;
    child.on('message', (message: unknown) => {
      if (isMessage<MetricsReport>(message, metricsReport)) {
        // A late answer (after its request timed out) is still this child's latest report.
        this.totals.reported(key, message.metrics);
        if (!exited) this.answering.set(key, child);
        if (message.id !== undefined) this.pending.get(message.id)?.settle();
      } else if (isMessage<TotalsRequest>(message, totalsRequest)) {
        void this.answerTotals(child, message.id);
      }
    });
    child.once('exit', () => {
      exited = true;
      this.answering.delete(key);
      for (const request of [...this.pending.values()].filter((p) => p.child === key)) request.settle();
      void this.totals.exited(key);
    });
    return child;
  }

  /**
   * Asks every answering child for a fresh report, then sums (see the class comment). `waitMs`
   * shortens the wait for answers below answerTimeoutMs: a scrape that gives up sooner (its
   * timeout) would otherwise get no answer at all while an engine process is busy, and
   * Prometheus would mark the whole replica down.
   */
  async collect(waitMs = this.answerTimeoutMs): Promise<Registry> {
    const wait = Math.min(waitMs, this.answerTimeoutMs);
    await Promise.all([...this.answering].map(([key, child]) => this.refresh(key, child, wait)));
    const own = this.options.own === undefined ? [] : [await this.options.own.getMetricsAsJSON()];
    return this.totals.sum(...own);
  }

  /** `collect(waitMs)` as the body and content type of a /metrics answer. */
  async scrape(waitMs?: number): Promise<MetricsResponse> {
    return metricsResponse(await this.collect(waitMs));
  }

  /** Settles when the child answered, after `waitMs`, or at once when it cannot be asked. */
  private refresh(key: number, child: ChildProcess, waitMs: number): Promise<void> {
    return new Promise((resolve) => {
      if (!child.connected) return resolve();
      const id = this.nextRequest++;
      const settle = () => {
        clearTimeout(timer);
        this.pending.delete(id);
        resolve();
      };
      const timer = setTimeout(settle, waitMs);
      this.pending.set(id, { child: key, settle });
      // The callback takes the error of a channel that closed meanwhile (else an 'error' event).
      child.send({ type: metricsRequest, id } satisfies MetricsRequest, (error) => {
        if (error) settle();
      });
    });
  }

  private async answerTotals(child: ChildProcess, id: number): Promise<void> {
    let fields: { body: string; contentType: string } | { error: string };
    try {
      fields = await this.scrape();
    } catch (error) {
      fields = { error: error instanceof Error ? error.message : String(error) };
    }
    if (child.connected) child.send({ type: totalsAnswer, id, ...fields } satisfies TotalsAnswer, () => {});
  }
}
