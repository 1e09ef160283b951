/**
 * The exit code of an engine process whose engine call overran its deadline (EX_TEMPFAIL): the
 * supervisor tells it from other exits and counts it as `engine_timeout`.
 */
export const engineCallOverdueExitCode = 75;

/** What one engine call was given: what the line about an overdue call names. */
export interface EngineCall {
  readonly images: number;
  /** `name@version`. */
  readonly model: string;
  readonly methods: readonly string[];
}

/** Runs one engine call under the deadline. */
export type EngineCallDeadline = <T>(call: EngineCall, work: () => Promise<T>) => Promise<T>;

/**
 * Bounds each engine call: when `work`'s promise has not settled `timeoutMs` after it began,
 * `onOverdue` is called (the engine process logs it and exits). The call is not rejected: an
 * engine that hangs has not said the input was bad, so its jobs must neither complete nor fail
 * here, but come back as stalled once the process is gone, and run alone elsewhere.
 *
 * Why it is needed: a call whose promise never settles (a GPU fault, a deadlocked native op)
 * leaves the event loop free, so the jobs' locks keep being renewed and they stay active for ever
 * while /readyz says ready. A call that blocks the event loop itself is out of its reach (the
 * timer cannot fire): the supervisor's heartbeat watchdog handles that one.
 */
export function createEngineCallDeadline(timeoutMs: number, onOverdue: (call: EngineCall) => void): EngineCallDeadline {
  return async (call, work) => {
    const deadline = setTimeout(() => onOverdue(call), timeoutMs);
    try {
      return await work();
    } finally {
      clearTimeout(deadline);
    }
  };
}

/** The fatal line of an overdue engine call. */
export function overdueEngineCallMessage(call: EngineCall, timeoutMs: number): string {
  const images = call.images === 1 ? '1 image' : `${call.images} images`;
  return `engine call hung: a batch of ${images} of ${call.model}, methods ${call.methods.join(', ')}, unsettled after ${timeoutMs / 1000} s (GRADCAM_ENGINE_TIMEOUT_SECONDS); exiting without completing or failing its jobs, which come back as stalled once their locks lapse and then run alone`;
}
