import { AggregatorRegistry, type Registry } from 'prom-client';
import type { MetricsJson } from './process-metrics-messages.ts';

/** Counters and histograms only go up: a process that is gone still accounts for what it counted. */
// prom-client types `type` as a numeric enum; the JSON holds its name.
const monotonic = (metrics: MetricsJson): MetricsJson => metrics.filter((m) => ['counter', 'histogram'].includes(String(m.type)));

/**
 * The totals of a group of processes, from each live process's last report and what exited
 * processes left. Every report is counted exactly once at any moment: a process's last report
 * moves to `leaving` the instant it exits, and out of `leaving` in the same tick as it lands in
 * `retired`. A scrape between the two (the fold is asynchronous) would otherwise miss it, and the
 * totals would dip, which Prometheus reads as a counter reset.
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

  /**
   * Everything counted now, aggregated (counters and histograms summed; prom-client's rules for
   * gauges), with `extra` reports (a parent's own metrics, read just now) added.
   */
  sum(...extra: MetricsJson[]): Registry {
    return AggregatorRegistry.aggregate([...this.lastReport.values(), this.retired, ...this.leaving, ...extra]);
  }
}
