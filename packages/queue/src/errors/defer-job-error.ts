/**
 * Not this worker's job, but another's: the batching worker hands it back to the queue, where it
 * waits `delayMs` (BullMQ's delayed set) before any worker may take it again. The attempt is not
 * counted, and the job keeps its place in no particular order: it goes to the back of the queue.
 * For a job whose model version this worker does not serve while another live worker does (a
 * rolling upgrade, or a fleet serving different models from one queue).
 */
export class DeferJobError extends Error {
  readonly code: string;
  readonly delayMs: number;

  constructor(code: string, message: string, delayMs: number) {
    super(message);
    if (!(Number.isInteger(delayMs) && delayMs >= 0)) throw new RangeError(`delayMs must be a whole number ≥ 0, got ${delayMs}`);
    this.name = 'DeferJobError';
    this.code = code;
    this.delayMs = delayMs;
  }
}
