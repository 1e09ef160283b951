/** One answer for Prometheus, from `SeriesTaken.answer`. */
export interface PrometheusAnswer {
  /** The exposition text, each event-stream series Prometheus has not taken yet at 0. */
  readonly body: string;
  /**
   * How many sample lines above 0 were shown at 0 so (0: the answer is the registry as it is):
   * the events they hold are not in this answer.
   */
  readonly held: number;
  /** How many sample lines of those families were shown at their value (series taken before). */
  readonly atValue: number;
  /** Prometheus took this answer (ScrapeAnswer.delivered): its series are shown as they are from now on. */
  readonly taken: () => void;
}

/**
 * The series of the event-stream families (`eventStreamMetricNames`) that Prometheus has taken an
 * answer of from this process. Each Prometheus answer shows a sample line of those families whose
 * series (the line without its value) it has not taken yet at 0, and its value from the answer
 * after one taken so.
 *
 * rate() and increase() take a series' first sample as its start, and see a reset only as a
 * drop. A series born after Prometheus's last answer (the first failure with a code outside
 * `jobFailureCodes`, the first job of a model no scrape knew yet) would appear at its first value,
 * 1 or more, and those first events would never be counted ("any failure with code X" missing the
 * first ones). And a restarted exporter counts from 0 and replays its gap from the cursor, so its
 * first answer can already be at or above what Prometheus stored from the last process, a rise
 * where a reset is due (gradcam_jobs_failed_total{code} at 1, two failures replayed: 1 counted,
 * not 2). Both are one case: after a start no series is taken yet, so every one is shown at 0
 * once, as the process started it.
 *
 * The set holds only series the registry renders: one no longer rendered is dropped at the next
 * answer (and shown at 0 again should it come back, as it would start again), so it never holds
 * more than the registry's series of those families. Per sample line: a histogram's new label set
 * has all its `_bucket`, `_sum` and `_count` lines new together, so they are at 0 together.
 */
export class SeriesTaken {
  private readonly taken = new Set<string>();

  private readonly families: ReadonlySet<string>;

  constructor(families: ReadonlySet<string>) {
    this.families = families;
  }

  answer(exposition: string): PrometheusAnswer {
    const series: string[] = [];
    let held = 0;
    let atValue = 0;
    let inFamily = false;
    const body = exposition
      .split('\n')
      .map((line) => {
        // Each family's samples follow its TYPE line, up to the next family's HELP and TYPE.
        if (line.startsWith('# TYPE ')) {
          inFamily = this.families.has(line.split(' ')[2] ?? '');
          return line;
        }
        if (!inFamily || line === '' || line.startsWith('#')) return line;
        // A label value may hold spaces (quotes, backslashes and newlines are escaped), so the
        // value is the last field: prom-client writes no timestamps.
        const key = line.slice(0, line.lastIndexOf(' '));
        series.push(key);
        if (this.taken.has(key)) {
          atValue++;
          return line;
        }
        if (line.slice(key.length + 1) !== '0') held++;
        return `${key} 0`;
      })
      .join('\n');
    const rendered = new Set(series);
    for (const key of this.taken) if (!rendered.has(key)) this.taken.delete(key);
    return {
      body,
      held,
      atValue,
      taken: () => {
        for (const key of series) this.taken.add(key);
      },
    };
  }
}
