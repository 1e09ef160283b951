import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ApiError } from '@gradcam/http-service';
import { QueueUnavailableError } from '@gradcam/queue';
import { StorageError } from '@gradcam/storage';
import { toApiError } from './api-error.ts';

test('toApiError: only a dependency that cannot answer now is a 503 to retry; the rest are 500 INTERNAL', () => {
  const cases: [unknown, number, string][] = [
    [new QueueUnavailableError('Command timed out'), 503, 'DEPENDENCY_UNAVAILABLE'],
    [new StorageError('STORAGE_UNAVAILABLE', 'socket hang up', { transient: true }), 503, 'STORAGE_UNAVAILABLE'],
    [new StorageError('STORAGE_ACCESS_DENIED', 'AccessDenied'), 500, 'INTERNAL'],
    [new StorageError('STORAGE_INVALID_KEY', 'bad key'), 500, 'INTERNAL'],
    [new TypeError('undefined is not a function'), 500, 'INTERNAL'],
    [new ApiError(422, 'IMAGE_NOT_FOUND', 'no object'), 422, 'IMAGE_NOT_FOUND'],
  ];
  for (const [error, status, code] of cases) {
    const answer = toApiError(error);
    assert.deepEqual([answer.status, answer.code, answer.retryAfter !== undefined], [status, code, status === 503]);
  }
});
