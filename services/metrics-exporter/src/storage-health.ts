import type { StorageConfig } from '@gradcam/config';
import { type BlobStore, StorageError, createBlobStore, interactiveS3Timeouts, probeKey, storageErrorCode } from '@gradcam/storage';
import type { Metrics, pipelineMetrics } from '@gradcam/telemetry';

type PipelineMetrics = Metrics<typeof pipelineMetrics>;

/**
 * Why storage cannot be used, as `gradcam_storage_problem{code}`: a closed set, each series at 0
 * from the first scrape. Any other failure of the probe (a StorageError of another code, an error
 * that is none) reads as STORAGE_UNAVAILABLE.
 */
export const storageProblemCodes = ['STORAGE_UNAVAILABLE', 'STORAGE_BUCKET_NOT_FOUND', 'STORAGE_ACCESS_DENIED', 'STORAGE_NOT_FOUND'] as const;
export type StorageProblemCode = (typeof storageProblemCodes)[number];

/** A probe starts at most this often, however often Prometheus (or a curl) scrapes. */
export const storageProbeEveryMs = 10_000;
/**
 * How long a scrape waits for a probe: well under a scrape's timeout (Prometheus's default and the
 * compose stack's is 10 s), and past what an S3 store on interactiveS3Timeouts needs to give up on
 * a silent endpoint (1 s of silence × 2 attempts). A probe still unanswered then reads as
 * STORAGE_UNAVAILABLE; should it answer later, the next scrape shows what it found.
 */
export const storageProbeDeadlineMs = 3_000;

/**
 * The store the exporter probes, made from the services' storage settings. An S3 store gives up on
 * a silent endpoint as ingest's and review's /readyz do (interactiveS3Timeouts: 1 s of silence × 2
 * attempts), inside storageProbeDeadlineMs, so a scrape reads what the store answered, not the deadline.
 */
export function createProbedStore(storage: StorageConfig, onWarning: (message: string) => void): BlobStore {
  return createBlobStore(storage, { ...interactiveS3Timeouts, onWarning });
}

export interface StorageHealthOptions {
  /** The store the services use, made from the same configuration (only `head` is called). */
  readonly store: Pick<BlobStore, 'head'>;
  /** GRADCAM_STORAGE_PREFIX (slashes trimmed; '' for none). */
  readonly prefix: string;
  readonly metrics: PipelineMetrics;
  readonly everyMs?: number;
  readonly deadlineMs?: number;
  /**
   * Told when the store turns unusable or its problem's code changes (the probe's error), and when
   * it is usable again (undefined): once each, not at every scrape. A first result that is usable
   * is not told.
   */
  readonly onChange?: (error: unknown) => void;
}

function codeOf(error: unknown): StorageProblemCode {
  const code = storageErrorCode(error);
  return (storageProblemCodes as readonly string[]).includes(code) ? (code as StorageProblemCode) : 'STORAGE_UNAVAILABLE';
}

/**
 * The read-only probe: a HEAD of the readiness probe object (`probeKey`) that ingest, review, the
 * workers and `npm start` write under the storage prefix. The exporter writes nothing: it reports
 * whether the store it shares with the services answers, with the bucket there and the credentials
 * allowed to read, without needing s3:PutObject (or a writable mount) itself. A probe that is not
 * there is no proof the store works where the services store things (a different bucket, prefix
 * or folder than theirs, a local store's volume not mounted here), so it fails (STORAGE_NOT_FOUND)
 * rather than read as usable; the services write it at start and every minute their /readyz is
 * polled.
 */
async function headProbe(store: Pick<BlobStore, 'head'>, key: string): Promise<void> {
  if ((await store.head(key)) !== undefined) return;
  throw new StorageError(
    'STORAGE_NOT_FOUND',
    `the readiness probe ${key} is not there: no service has written it where the exporter looks (S3_BUCKET, GRADCAM_STORAGE_PREFIX or GRADCAM_STORAGE_DIR not the services'?), or none has started yet`,
    { key },
  );
}

interface Probe {
  readonly generation: number;
  readonly startedAt: number;
  readonly settled: Promise<void>;
  done: boolean;
  /** Whether the store answered the HEAD (or failed it): until then a probe is not started again. */
  answered: boolean;
}

/**
 * `gradcam_storage_up`, `gradcam_storage_problem{code}` and `gradcam_storage_probe_duration_seconds`,
 * refreshed at scrape time: a probe starts when the last one started `everyMs` ago or more, and the
 * scrape waits for it at most until `deadlineMs` after its start (a probe in flight is not started
 * again, and a scrape in between shows the last result). So a storage outage reads 0 with no traffic
 * at all, a scrape every second costs one HEAD per 10 s, and a store that never answers holds no
 * scrape past the deadline.
 */
export class StorageHealth {
  private readonly key: string;
  private readonly everyMs: number;
  private readonly deadlineMs: number;
  private generation = 0;
  private current: Probe | undefined;
  /** The last result recorded: 'up' or the problem's code (undefined: none yet). */
  private lastState: StorageProblemCode | 'up' | undefined;

  private readonly options: StorageHealthOptions;

  constructor(options: StorageHealthOptions) {
    this.options = options;
    this.key = probeKey(options.prefix);
    this.everyMs = options.everyMs ?? storageProbeEveryMs;
    this.deadlineMs = options.deadlineMs ?? storageProbeDeadlineMs;
    const { metrics } = options;
    // Unknown until the first scrape's probe: every code at 0 so the series exist from the start.
    for (const code of storageProblemCodes) metrics.storageProblem.set({ code }, 0);
  }

  /** For a scrape: starts a probe when one is due, and waits for it up to its deadline. Never rejects. */
  async refresh(): Promise<void> {
    const now = performance.now();
    // A store that holds a HEAD past the deadline (a hung mount waits out its 30 s) gets no second
    // one meanwhile: the last result (unavailable, from the deadline) stands until it answers.
    const last = this.current;
    const probe = last === undefined || (last.answered && now - last.startedAt >= this.everyMs) ? this.start(now) : last;
    this.current = probe;
    if (probe.done) return;
    const left = probe.startedAt + this.deadlineMs - now;
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, Math.max(0, left));
    });
    await Promise.race([probe.settled, deadline]);
    clearTimeout(timer);
    if (probe.done || probe.generation !== this.generation) return;
    this.record(
      probe,
      new StorageError('STORAGE_UNAVAILABLE', `no answer to a HEAD of the readiness probe ${this.key} within ${this.deadlineMs} ms`, { key: this.key }),
      this.deadlineMs / 1000,
    );
  }

  private start(startedAt: number): Probe {
    const generation = ++this.generation;
    const probe: Probe = {
      generation,
      startedAt,
      done: false,
      answered: false,
      settled: headProbe(this.options.store, this.key).then(
        () => this.answered(probe, undefined, startedAt),
        (error: unknown) => this.answered(probe, error, startedAt),
      ),
    };
    return probe;
  }

  private answered(probe: Probe, error: unknown, startedAt: number): void {
    probe.answered = true;
    this.record(probe, error, (performance.now() - startedAt) / 1000);
  }

  /**
   * Publishes a probe's result (`error` undefined: usable). A probe that answers after its
   * deadline was recorded (as a timeout) still records what it found, unless a newer one started.
   */
  private record(probe: Probe, error: unknown, seconds: number): void {
    if (probe.generation !== this.generation) return;
    probe.done = true;
    const { metrics } = this.options;
    const problem = error === undefined ? undefined : codeOf(error);
    metrics.storageUp.set(problem === undefined ? 1 : 0);
    for (const code of storageProblemCodes) metrics.storageProblem.set({ code }, code === problem ? 1 : 0);
    metrics.storageProbeDuration.set(seconds);
    const state = problem ?? 'up';
    const before = this.lastState;
    this.lastState = state;
    if (state === before || (state === 'up' && before === undefined)) return;
    this.options.onChange?.(error);
  }
}
