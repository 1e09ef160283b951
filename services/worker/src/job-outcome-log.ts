import type { JobFinishedEvent } from '@gradcam/queue';

export interface OutcomeLogger {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

export interface JobOutcomeLogOptions {
  /** How long the first of a kind of outcome waits for others like it (its batch-mates) before it is told. */
  readonly gatherMs?: number;
  /** After a line, the next one of the same kind comes at most this much later, counting all in between. */
  readonly everyMs?: number;
  /** Ids named per line. */
  readonly ids?: number;
}

/** Tells the log of jobs that did not complete: retried, failed for good, handed back. */
export interface JobOutcomeLog {
  record(event: JobFinishedEvent): void;
  /** Tells what is still untold at once, and stops. Safe twice. */
  close(): void;
}

interface Untold {
  count: number;
  readonly ids: string[];
  attempts: JobFinishedEvent['attempts'];
  timer: NodeJS.Timeout | undefined;
}

/**
 * Summary lines for the jobs that did not complete, one per kind (outcome and code) at a time: the
 * first of a kind waits `gatherMs` (1 s) for the rest of its batch, then one line gives the count,
 * the code and a few ids; later ones of that kind are counted into a line at most every `everyMs`
 * (60 s). An outage that fails thousands of jobs makes a line a minute per code, not a line per
 * job; a lone bad input is still told within a second. Completed jobs are not logged.
 *
 * Levels: a job that failed for good after its retries is an error (accepted work lost); an attempt
 * that failed and will be retried, and a job failed at once for its own bad input, are warnings;
 * a job handed back to the queue without an attempt counted (storage out, another worker's model, a
 * suspect running alone) is info.
 */
export function createJobOutcomeLog(log: OutcomeLogger, options: JobOutcomeLogOptions = {}): JobOutcomeLog {
  const gatherMs = options.gatherMs ?? 1_000;
  const everyMs = options.everyMs ?? 60_000;
  const idsPerLine = options.ids ?? 5;
  const untold = new Map<string, Untold>();
  const toldAt = new Map<string, number>();
  let closed = false;

  const tell = (key: string) => {
    const entry = untold.get(key);
    if (entry === undefined) return;
    clearTimeout(entry.timer);
    untold.delete(key);
    toldAt.set(key, performance.now());
    const [outcome, code] = key.split(' ') as [string, string];
    const jobs = `${entry.count} job${entry.count === 1 ? '' : 's'}`;
    const ids = `${entry.ids.join(', ')}${entry.count > entry.ids.length ? `, … (${entry.count - entry.ids.length} more)` : ''}`;
    const attempts = entry.attempts === undefined ? '' : `, attempt ${entry.attempts.made} of ${entry.attempts.max}${entry.count === 1 ? '' : ' (the last of them)'}`;
    switch (outcome) {
      case 'retried':
        return log.warn(`${jobs} failed an attempt with ${code} and will be retried after a backoff${attempts}: ${ids}`);
      case 'exhausted':
        return log.error(`${jobs} failed for good with ${code} after every attempt${attempts}; they stay in the failed set: ${ids}`);
      case 'failed':
        return log.warn(`${jobs} failed at once with ${code}, not retried (the job itself cannot succeed): ${ids}`);
      default:
        return log.info(`${jobs} handed back to the queue with ${code}, no attempt counted: ${ids}`);
    }
  };

  return {
    record(event) {
      if (closed || event.outcome === 'completed') return;
      const exhausted = event.outcome === 'failed' && event.attempts !== undefined && event.attempts.made >= event.attempts.max;
      const key = `${exhausted ? 'exhausted' : event.outcome} ${event.code ?? 'UNKNOWN'}`;
      let entry = untold.get(key);
      if (entry === undefined) {
        entry = { count: 0, ids: [], attempts: undefined, timer: undefined };
        untold.set(key, entry);
        const wait = Math.max(gatherMs, (toldAt.get(key) ?? Number.NEGATIVE_INFINITY) + everyMs - performance.now());
        entry.timer = setTimeout(() => tell(key), wait);
        // A pending line never keeps a stopping process alive; close() tells it.
        entry.timer.unref();
      }
      entry.count++;
      if (entry.ids.length < idsPerLine) entry.ids.push(event.jobId);
      entry.attempts = event.attempts;
    },
    close() {
      if (closed) return;
      closed = true;
      for (const key of [...untold.keys()]) tell(key);
    },
  };
}
