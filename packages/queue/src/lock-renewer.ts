/** Renews the given locks for `duration` ms in one call; resolves with the ids whose lock was not ours any more. */
export type ExtendLocks = (jobIds: string[], tokens: string[], duration: number) => Promise<string[]>;

export interface LockRenewerOptions {
  readonly lockDuration: number;
  readonly extendLocks: ExtendLocks;
  /** Once per renewal round that lost locks (all its job ids in one error), and for renewals that failed outright. */
  readonly onError: (error: Error) => void;
}

/**
 * Keeps the locks of the jobs a worker holds, renewing them every lockDuration / 2 in one Redis
 * call. It replaces BullMQ's own lock manager, which tracks jobs by id alone: when a job's lock
 * lapsed and the same worker fetched the job again while the first copy was still running, the
 * first copy's end untracked the id and so stopped renewing the second copy, which then stalled
 * again and again until BullMQ failed it. Here a job is tracked by id and token: the newest copy's
 * token replaces an older one (whose lock is gone anyway: a job is only fetched again once its lock
 * lapsed), and ending a copy untracks the id only while that copy's token is still the tracked one.
 */
export class LockRenewer {
  readonly #options: LockRenewerOptions;
  readonly #tokens = new Map<string, string>();
  #timer: NodeJS.Timeout | undefined;
  #renewing = false;

  constructor(options: LockRenewerOptions) {
    this.#options = options;
  }

  /** Jobs whose locks are being renewed. */
  get size(): number {
    return this.#tokens.size;
  }

  track(jobId: string, token: string): void {
    this.#tokens.set(jobId, token);
  }

  untrack(jobId: string, token: string): void {
    if (this.#tokens.get(jobId) === token) this.#tokens.delete(jobId);
  }

  start(): void {
    this.#timer ??= setInterval(() => void this.renew(), this.#options.lockDuration / 2);
  }

  /** Stops renewing. Call it after the worker has settled every job it held. */
  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#tokens.clear();
  }

  /** One renewal round (the timer's; exposed for tests). A round still waiting on Redis makes the next one a no-op. */
  async renew(): Promise<void> {
    if (this.#renewing || this.#tokens.size === 0) return;
    this.#renewing = true;
    const round = [...this.#tokens];
    try {
      const lost = await this.#options.extendLocks(
        round.map(([jobId]) => jobId),
        round.map(([, token]) => token),
        this.#options.lockDuration,
      );
      if (lost.length === 0) return;
      // A lock that was not ours (it lapsed, or another worker took the job) never comes back:
      // stop renewing it, so it is reported once, not every round until the copy ends.
      const lostIds = new Set(lost);
      for (const [jobId, token] of round) if (lostIds.has(jobId)) this.untrack(jobId, token);
      this.#options.onError(new Error(`could not renew the lock of ${lost.length} job(s) (${lost.slice(0, 5).join(', ')}): they may run again elsewhere`));
    } catch (error) {
      this.#options.onError(new Error(`renewing job locks failed: ${error instanceof Error ? error.message : String(error)}`, { cause: error }));
    } finally {
      this.#renewing = false;
    }
  }
}
