import { jobInvalidCode } from '../job-failure.ts';

/** A job payload that does not match its schema; thrown by producers before anything is added. */
export class JobInvalidError extends Error {
  readonly code = jobInvalidCode;
  /** Position of the offending job in the list passed to the producer. */
  readonly index: number;

  constructor(index: number, detail: string) {
    super(`job ${index} is invalid: ${detail}`);
    this.name = 'JobInvalidError';
    this.index = index;
  }
}
