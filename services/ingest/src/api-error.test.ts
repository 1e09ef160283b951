import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ApiError } from '@gradcam/http-service';
import { QueueUnavailableError } from '@gradcam/queue';
import { StorageError } from '@gradcam/storage';
import { requestKindOf, toApiError } from './api-error.ts';

test('toApiError: only a dependency that cannot answer now is a 503 to retry; the rest are 500 INTERNAL', () => {
  const cases: [unknown, number, string][] = [
    [new QueueUnavailableError('Command timed out'), 503, 'DEPENDENCY_UNAVAILABLE'],
    [new StorageError('STORAGE_UNAVAILABLE', 'socket hang up', { transient: true }), 503, 'STORAGE_UNAVAILABLE'],
    [new StorageError('STORAGE_ACCESS_DENIED', 'AccessDenied'), 500, 'INTERNAL'],
    [new StorageError('STORAGE_BUCKET_NOT_FOUND', 'NoSuchBucket'), 500, 'INTERNAL'],
    [new StorageError('STORAGE_INVALID_KEY', 'bad key'), 500, 'INTERNAL'],
    [new TypeError('undefined is not a function'), 500, 'INTERNAL'],
    [new ApiError(422, 'IMAGE_NOT_FOUND', 'no object'), 422, 'IMAGE_NOT_FOUND'],
  ];
  for (const [error, status, code] of cases) {
    const answer = toApiError(error, 'test-request-id');
    assert.deepEqual([answer.status, answer.code, answer.retryAfter !== undefined], [status, code, status === 503]);
  }
});

test("toApiError: a 500 tells the client a fixed line and the request id, never the error's words (they may name paths or keys)", () => {
  const path = '/srv/gradcam/keys/s3-credentials.json';
  for (const error of [new Error(`EACCES: permission denied, open '${path}'`), new StorageError('STORAGE_ACCESS_DENIED', `filesystem get captures/a/prediction.json: EACCES: permission denied, open '${path}'`)]) {
    const answer = toApiError(error, 'the-request-id');
    assert.equal(answer.code, 'INTERNAL');
    assert.doesNotMatch(answer.message, /EACCES|srv|captures/);
    assert.match(answer.message, /the service's log has the details under request id the-request-id$/);
    assert.deepEqual(answer.details, { requestId: 'the-request-id' });
  }
});

test("toApiError: a 503 names the dependency and the request id, never the error's words (they name hosts, ports, paths)", () => {
  const cases: [unknown, RegExp][] = [
    [new QueueUnavailableError('could not read the queue depth: connect ECONNREFUSED 10.0.3.7:6379'), /^Redis is unavailable; nothing was accepted, retry later/],
    [new StorageError('STORAGE_UNAVAILABLE', "filesystem put captures/a/input.jpg timed out: /srv/gradcam/store is slow", { transient: true }), /^storage is unavailable; the record was not accepted, retry later/],
  ];
  for (const [error, sentence] of cases) {
    const answer = toApiError(error, 'the-request-id');
    assert.equal(answer.status, 503);
    assert.match(answer.message, sentence);
    assert.doesNotMatch(answer.message, /ECONNREFUSED|10\.0|6379|srv|captures/);
    assert.match(answer.message, /\(request id the-request-id\)$/);
    assert.deepEqual(answer.details, { requestId: 'the-request-id' });
  }
});

test('toApiError: a 503 of a read says to retry, not that nothing was accepted', () => {
  const cases: [unknown, RegExp, RegExp][] = [
    [new QueueUnavailableError('Command timed out'), /^Redis is unavailable; nothing was accepted, retry later \(/, /^Redis is unavailable; retry later \(/],
    [new StorageError('STORAGE_UNAVAILABLE', 'socket hang up', { transient: true }), /^storage is unavailable; the record was not accepted, retry later \(/, /^storage is unavailable; retry later \(/],
  ];
  for (const [error, accepting, reading] of cases) {
    assert.match(toApiError(error, 'r').message, accepting);
    assert.match(toApiError(error, 'r', 'accept').message, accepting);
    assert.match(toApiError(error, 'r', 'read').message, reading);
  }
  assert.deepEqual(['GET', 'HEAD', 'POST', 'PUT'].map(requestKindOf), ['read', 'read', 'accept', 'accept']);
});

test("toApiError: a missing bucket is a deployment problem the 500 names, without the bucket's name", () => {
  const answer = toApiError(new StorageError('STORAGE_BUCKET_NOT_FOUND', 'S3 PutObject captures/a/input.jpg failed: The specified bucket does not exist (NoSuchBucket)'), 'rid');
  assert.equal(answer.message, "the storage bucket does not exist (a deployment problem: check the store's bucket setting, and that the bucket was created); the service's log has the details under request id rid");
});
