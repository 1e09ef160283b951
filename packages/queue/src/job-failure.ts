import { UnrecoverableError } from 'bullmq';
import type { z } from 'zod';
import { BatchFailedError } from './errors/batch-failed-error.ts';

/**
 * How a failed job states why: BullMQ keeps `error.message` as the job's `failedReason`, so the
 * worker writes it as `CODE: message` with a stable upper-snake-case code. The ingest status
 * endpoint and the failure metrics read the code back with `parseFailedReason`.
 */

/** The job data did not match its schema (checked by producers and again by the worker). */
export const jobInvalidCode = 'JOB_INVALID';
/** `processBatch` threw, and the error it threw carried no code of its own. */
export const batchFailedCode = 'BATCH_FAILED';
/** An error without a usable code. */
export const jobFailedCode = 'JOB_FAILED';
/** BullMQ gave up on a job whose worker kept losing its lock (crash, blocked event loop). */
export const jobStalledCode = 'JOB_STALLED';
/**
 * Not a failure: the code of a job handed back to the queue (outcome `deferred`, no attempt
 * counted) because its worker was running a job back from a stall alone.
 */
export const isolatingSuspectCode = 'ISOLATING_SUSPECT';

export interface JobFailure {
  readonly code: string;
  readonly message: string;
}

const codePattern = /^[A-Z][A-Z0-9_]{1,63}$/;
const failedReasonPattern = /^([A-Z][A-Z0-9_]{1,63}): ([\s\S]*)$/;

/** `NoSuchKey` → `NO_SUCH_KEY`, `ECONNRESET` stays; anything unusable → undefined. */
function normaliseCode(raw: unknown): string | undefined {
  if (typeof raw !== 'string') return undefined;
  const code = raw
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .replace(/[^A-Za-z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '')
    .toUpperCase();
  return codePattern.test(code) ? code : undefined;
}

/** The stable code an error carries in its `code` property, if any. */
export function errorCode(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null || !('code' in error)) return undefined;
  return normaliseCode(error.code);
}

/** Permanent errors are not retried: `PermanentJobError`, or any error with `permanent === true`. */
export function isPermanent(error: unknown): boolean {
  return typeof error === 'object' && error !== null && 'permanent' in error && error.permanent === true;
}

export function formatFailedReason(code: string, message: string): string {
  return `${code}: ${message}`;
}

/** Reads a job's `failedReason` back; reasons BullMQ wrote itself get a code too. */
export function parseFailedReason(reason: string | undefined): JobFailure {
  const match = failedReasonPattern.exec(reason ?? '');
  if (match) return { code: match[1] as string, message: match[2] as string };
  if (reason !== undefined && /stalled more than allowable limit/.test(reason)) return { code: jobStalledCode, message: reason };
  return { code: jobFailedCode, message: reason === undefined || reason === '' ? 'unknown failure' : reason };
}

/** One line per schema issue, bounded, so a huge bad payload cannot bloat the failed job. */
export function summariseIssues(error: z.ZodError): string {
  const text = error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`).join('; ');
  return text.length > 1000 ? `${text.slice(0, 1000)}…` : text;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * The error the BullMQ processor throws for a failed job: message `CODE: message`, the original
 * stack, and `UnrecoverableError` for permanent failures so BullMQ skips the remaining attempts.
 * A whole-batch failure is always transient: the fault was not this job's.
 */
export function toJobFailureError(error: unknown): Error {
  if (error instanceof BatchFailedError) {
    const cause = error.cause ?? error;
    const wrapped = new Error(formatFailedReason(errorCode(cause) ?? batchFailedCode, messageOf(cause)), { cause });
    if (cause instanceof Error && cause.stack !== undefined) wrapped.stack = cause.stack;
    return wrapped;
  }
  const reason = formatFailedReason(errorCode(error) ?? jobFailedCode, messageOf(error));
  const wrapped = isPermanent(error) ? new UnrecoverableError(reason) : new Error(reason);
  wrapped.cause = error;
  if (error instanceof Error && error.stack !== undefined) wrapped.stack = error.stack;
  return wrapped;
}
