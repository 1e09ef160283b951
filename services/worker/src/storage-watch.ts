import { DeferJobError } from '@gradcam/queue';
import { type BlobStore, probeStore } from '@gradcam/storage';
import { JobFailure } from './job-failure.ts';

/** Why no job can use storage now, as the probe that said so put it. */
export interface StorageOutage {
  /** STORAGE_UNAVAILABLE, STORAGE_BUCKET_NOT_FOUND or STORAGE_ACCESS_DENIED. */
  readonly code: string;
  readonly message: string;
  /** performance.now() of the first failed probe of the outage. */
  readonly since: number;
}

/**
 * The probe failures that mean no job can use storage: the store down or unreachable, its bucket
 * gone, the credentials refused. A job of any input meets the same, so failing jobs for it would
 * only drop them. Any other probe error (a bug, a key the store refuses) is no outage.
 */
export const storageOutageCodes = ['STORAGE_UNAVAILABLE', 'STORAGE_BUCKET_NOT_FOUND', 'STORAGE_ACCESS_DENIED'] as const;
const outageCodes: ReadonlySet<string> = new Set(storageOutageCodes);

/**
 * The one call that says whether the worker can use storage: probeStore writes a small probe object
 * under the prefix and HEADs it (no s3:ListBucket needed). Written every time, not only when
 * missing: the worker writes every explanation, and a store that still answers reads but refuses
 * writes (credentials without s3:PutObject, a full disk, a read-only mount) fails every job as
 * surely as one that is down. A PUT of a few bytes, at start, when jobs failed on storage, and
 * every probeEveryMs while out.
 */
export function probeStorage(store: BlobStore, prefix: string): Promise<void> {
  return probeStore(store, prefix, { write: true });
}

export interface StorageWatchOptions {
  /** Rejects when storage cannot be used (probeStorage). */
  readonly probe: () => Promise<unknown>;
  /**
   * The outage's message from the probe's error: storageProblemLine, naming the setting to fix
   * (S3_BUCKET, S3_ENDPOINT, GRADCAM_STORAGE_DIR…). The error's own message when omitted.
   */
  readonly describe?: (error: unknown) => string;
  /** While storage is out, it is probed again this often until it answers. */
  readonly probeEveryMs: number;
  /** Storage went out (`before` undefined), came back (`now` undefined), or went out another way (another code). */
  readonly onChange: (now: StorageOutage | undefined, before: StorageOutage | undefined) => void;
  /** While out: called after a failed probe at most every `remindEveryMs` (60 s), for a progress line. */
  readonly onStillOut?: (outage: StorageOutage) => void;
  readonly remindEveryMs?: number;
}

/**
 * Whether storage can be used, from probes run only when there is reason to doubt it: at the
 * start, when a job failed on storage, and while it is out (every `probeEveryMs` until it answers).
 * While it answers, the jobs' own storage calls are the only traffic: nothing is probed on a timer.
 */
export class StorageWatch {
  readonly #options: StorageWatchOptions;
  #outage: StorageOutage | undefined;
  #probing: Promise<StorageOutage | undefined> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #remindedAt = Number.NEGATIVE_INFINITY;
  #closed = false;

  constructor(options: StorageWatchOptions) {
    this.#options = options;
  }

  /** The outage the last probe found; undefined while storage answers. */
  get outage(): StorageOutage | undefined {
    return this.#outage;
  }

  /**
   * Probes storage now, unless a probe is under way, whose answer it shares (a batch of failed
   * jobs, or two batches failing at once, cost one probe). Resolves with the outage, if storage is
   * out; never rejects.
   */
  check(): Promise<StorageOutage | undefined> {
    this.#probing ??= this.#probe().finally(() => (this.#probing = undefined));
    return this.#probing;
  }

  /** Stops probing (a probe under way still settles, telling no one). Safe twice. */
  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
  }

  async #probe(): Promise<StorageOutage | undefined> {
    let outage: StorageOutage | undefined;
    try {
      await this.#options.probe();
    } catch (error) {
      const code = (error as { code?: unknown } | null)?.code;
      if (typeof code === 'string' && outageCodes.has(code)) {
        const message = this.#options.describe?.(error) ?? (error instanceof Error ? error.message : String(error));
        outage = { code, message, since: this.#outage?.since ?? performance.now() };
      }
    }
    if (this.#closed) return outage;
    const before = this.#outage;
    this.#outage = outage;
    if (outage === undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
      if (before !== undefined) this.#options.onChange(undefined, before);
      return undefined;
    }
    const now = performance.now();
    if (before === undefined || before.code !== outage.code) {
      this.#remindedAt = now;
      this.#options.onChange(outage, before);
    } else if (now - this.#remindedAt >= (this.#options.remindEveryMs ?? 60_000)) {
      this.#remindedAt = now;
      this.#options.onStillOut?.(outage);
    }
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => void this.check(), this.#options.probeEveryMs);
    return outage;
  }
}

/** A failure storage being out may explain: a storage code the job itself is not to blame for. */
const blamesStorage = (outcome: unknown): outcome is JobFailure => outcome instanceof JobFailure && !outcome.permanent && outcome.code.startsWith('STORAGE_');

/**
 * A batch's outcomes, with each job that failed on storage while storage is out handed back to
 * the queue instead (no attempt counted; it waits `delayMs` there). One probe decides for the
 * batch: while storage answers it, such a failure is the job's own bad luck (a key the store
 * refuses, a blip) and uses an attempt as before. The batch without such failures costs nothing.
 */
export async function handBackStorageFailures<T>(watch: StorageWatch, outcomes: readonly T[], delayMs: number): Promise<(T | DeferJobError)[]> {
  if (!outcomes.some(blamesStorage)) return [...outcomes];
  const outage = await watch.check();
  if (outage === undefined) return [...outcomes];
  return outcomes.map((outcome) =>
    blamesStorage(outcome) ? new DeferJobError(outcome.code, `storage is out (${outage.code}): ${outcome.message}; handed back to the queue, no attempt counted`, delayMs) : outcome,
  );
}
