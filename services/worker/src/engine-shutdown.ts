/** What an engine process's shutdown needs: what it drains, how it exits, and where it says so. */
export interface EngineShutdownDeps {
  /** How long the drain may take; past it the process exits 1 (see runEngineProcess). */
  readonly timeoutMs: number;
  /** Stops taking jobs, finishes and stores the batches held, closes the connections and the store. */
  readonly drain: () => Promise<void>;
  readonly exit: (code: number) => void;
  readonly log: { info(message: string): void; error(message: string): void };
  /** Before the exit past the deadline: tells the log what its summary lines still hold. */
  readonly beforeOverdueExit?: () => void;
}

/**
 * The engine process's one drain: `shutdown(reason, exitCode)` drains and exits `exitCode` (0, the
 * default, for a stop that was asked for: SIGTERM, SIGINT, the supervisor gone), or 1 once the
 * drain has taken `timeoutMs`. Asked again while it drains, it does not start over; a stop asked
 * for meanwhile makes the exit 0.
 */
export function engineShutdown(deps: EngineShutdownDeps): (reason: string, exitCode?: number) => Promise<void> {
  let draining = false;
  let code = 0;
  return async (reason, exitCode = 0) => {
    if (draining) {
      // A stop asked for while the process drains at its memory ceiling (SIGTERM in a rollout, the
      // replica stopping): the same drain, but the exit is the one asked for. A supervisor that is
      // stopping takes any code but 0 for a drain that failed (and exits 1 itself); it restarts
      // nothing then, so the ceiling's code would tell it nothing.
      if (exitCode === 0 && code !== 0) {
        code = 0;
        deps.log.info(`${reason}: already draining (exiting 0 once drained)`);
      }
      return;
    }
    draining = true;
    code = exitCode;
    deps.log.info(`${reason}: finishing the current batch`);
    // The drain waits for the batch in flight and for Redis, which may be down or never answer.
    // Past the deadline the process exits anyway: a batch still running (Redis gone, storage
    // silent, or a healthy batch longer than a lock) loses its locks one lock duration later at
    // most, and BullMQ's stalled-job check (any worker, this one once restarted included) moves
    // its jobs back to waiting. So exiting loses no accepted job, and the rewrite is idempotent
    // (keys are fixed per inference).
    const deadline = setTimeout(() => {
      deps.log.error(`${reason}: not closed after ${deps.timeoutMs} ms (Redis or storage not answering?); exiting, unfinished jobs return to the queue when their locks lapse`);
      deps.beforeOverdueExit?.();
      deps.exit(1);
    }, deps.timeoutMs);
    deadline.unref();
    await deps.drain();
    clearTimeout(deadline);
    deps.exit(code);
  };
}
