import assert from 'node:assert/strict';
import { test } from 'node:test';
import { UnrecoverableError } from 'bullmq';
import { BatchFailedError } from './errors/batch-failed-error.ts';
import { PermanentJobError } from './errors/permanent-job-error.ts';
import { errorCode, parseFailedReason, toJobFailureError } from './job-failure.ts';

test('codes are normalised to UPPER_SNAKE_CASE or dropped', () => {
  assert.equal(errorCode(Object.assign(new Error('x'), { code: 'ECONNRESET' })), 'ECONNRESET');
  assert.equal(errorCode(Object.assign(new Error('x'), { code: 'NoSuchKey' })), 'NO_SUCH_KEY');
  assert.equal(errorCode(Object.assign(new Error('x'), { code: 'ERR_INVALID_ARG_TYPE' })), 'ERR_INVALID_ARG_TYPE');
  assert.equal(errorCode(Object.assign(new Error('x'), { code: 42 })), undefined);
  assert.equal(errorCode(Object.assign(new Error('x'), { code: '-' })), undefined);
  assert.equal(errorCode('just a string'), undefined);
});

test('permanent errors become UnrecoverableError stating CODE: message', () => {
  const original = new PermanentJobError('IMAGE_UNDECODABLE', 'not a JPEG');
  const wrapped = toJobFailureError(original);
  assert.ok(wrapped instanceof UnrecoverableError);
  assert.equal(wrapped.message, 'IMAGE_UNDECODABLE: not a JPEG');
  assert.equal(wrapped.cause, original);
  assert.equal(wrapped.stack, original.stack, 'the job keeps the stack of where it failed');
  assert.ok(toJobFailureError(Object.assign(new Error('x'), { permanent: true })) instanceof UnrecoverableError);
});

test('other errors stay retryable; uncoded ones get JOB_FAILED; a batch failure takes its cause’s code', () => {
  const transient = toJobFailureError(Object.assign(new Error('slow down'), { code: 'SlowDown' }));
  assert.ok(!(transient instanceof UnrecoverableError));
  assert.equal(transient.message, 'SLOW_DOWN: slow down');
  assert.equal(toJobFailureError(new Error('boom')).message, 'JOB_FAILED: boom');
  assert.equal(toJobFailureError('thrown string').message, 'JOB_FAILED: thrown string');
  const batch = toJobFailureError(new BatchFailedError('processBatch threw', { cause: Object.assign(new Error('gone'), { code: 'S3_UNAVAILABLE', permanent: true }) }));
  assert.ok(!(batch instanceof UnrecoverableError), 'a whole-batch failure is transient');
  assert.equal(batch.message, 'S3_UNAVAILABLE: gone');
  assert.equal(toJobFailureError(new BatchFailedError('3 outcomes for 4 items')).message, 'BATCH_FAILED: 3 outcomes for 4 items');
});

test('failed reasons parse back into code and message', () => {
  assert.deepEqual(parseFailedReason('JOB_INVALID: folder: must end with "/"'), { code: 'JOB_INVALID', message: 'folder: must end with "/"' });
  assert.deepEqual(parseFailedReason('IMAGE_UNDECODABLE: line 1\nline 2'), { code: 'IMAGE_UNDECODABLE', message: 'line 1\nline 2' });
  assert.deepEqual(parseFailedReason('job stalled more than allowable limit'), { code: 'JOB_STALLED', message: 'job stalled more than allowable limit' });
  assert.deepEqual(parseFailedReason('something odd'), { code: 'JOB_FAILED', message: 'something odd' });
  assert.deepEqual(parseFailedReason(undefined), { code: 'JOB_FAILED', message: 'unknown failure' });
});
