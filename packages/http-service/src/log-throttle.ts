/**
 * Which of a run of like failures a log is told of: the first, one that says something else, and
 * then one every `everyMs` (60 s), with how many were left untold since. A dependency that is down
 * fails every probe and every request: told each time, the log would hold little but that stack.
 */
export class LogThrottle {
  #told: { what: string; at: number } | undefined;
  #untold = 0;

  private readonly everyMs: number;

  constructor(everyMs = 60_000) {
    this.everyMs = everyMs;
  }

  /** Undefined when a failure saying `what` is not to be logged now; otherwise how many were left untold since the last one logged. */
  admit(what: string): number | undefined {
    const now = performance.now();
    if (this.#told !== undefined && this.#told.what === what && now - this.#told.at < this.everyMs) {
      this.#untold += 1;
      return undefined;
    }
    const untold = this.#untold;
    this.#told = { what, at: now };
    this.#untold = 0;
    return untold;
  }

  /** The run is over (the dependency answers again): its next failure is told at once. */
  clear(): void {
    this.#told = undefined;
    this.#untold = 0;
  }
}
