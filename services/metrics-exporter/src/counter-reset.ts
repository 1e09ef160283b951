/**
 * The exposition text with every sample of `families` at 0: the event-stream counters and
 * histograms as a fresh process has them, shown to Prometheus once after each start (see createApp).
 *
 * A restarted exporter counts from 0 and replays the events since its cursor, so its first answer
 * can already be at or above what Prometheus stored from the last process; rate() and increase()
 * see a reset only as a drop, so they would take (new − old) where new was due whole
 * (gradcam_jobs_failed_total{code} at 1, two failures replayed: 1 counted, not 2). A sample at 0
 * first makes the reset a drop, however fast the replay.
 */
export function zeroFamilies(body: string, families: ReadonlySet<string>): string {
  let zeroing = false;
  return body
    .split('\n')
    .map((line) => {
      // Each family's samples follow its TYPE line, up to the next family's HELP and TYPE.
      if (line.startsWith('# TYPE ')) {
        zeroing = families.has(line.split(' ')[2] ?? '');
        return line;
      }
      if (!zeroing || line === '' || line.startsWith('#')) return line;
      // A label value may hold spaces (quotes and newlines are escaped), so the value is the last
      // field: prom-client writes no timestamps.
      return `${line.slice(0, line.lastIndexOf(' '))} 0`;
    })
    .join('\n');
}
