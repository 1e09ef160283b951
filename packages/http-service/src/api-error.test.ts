import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ApiError, dependencyUnavailable, internalError, reportedApiError } from './index.ts';

test("internalError: a fixed line naming the request id, never the error's words (they may name files, keys or hosts)", () => {
  const answer = internalError('7d0c4f4e-1b8e-4f43-9d1b-1f2a3b4c5d6e');
  assert.deepEqual([answer.status, answer.code, answer.retryAfter], [500, 'INTERNAL', undefined]);
  assert.equal(answer.message, "an unexpected error occurred; the service's log has the details under request id 7d0c4f4e-1b8e-4f43-9d1b-1f2a3b4c5d6e");
  assert.deepEqual(answer.details, { requestId: '7d0c4f4e-1b8e-4f43-9d1b-1f2a3b4c5d6e' });
  assert.equal(internalError('r-1', 'storage refused the request (STORAGE_BUCKET_NOT_FOUND)').message, "storage refused the request (STORAGE_BUCKET_NOT_FOUND); the service's log has the details under request id r-1");
});

test('reportedApiError: the log is told of a 5xx with the request id its answer names; a 4xx is not', () => {
  const secret = new Error("EACCES: permission denied, open '/srv/gradcam/keys/s3-credentials.json'");
  const reported: [unknown, string, number][] = [];
  const report = (error: unknown, requestId: string, answer: ApiError) => void reported.push([error, requestId, answer.status]);
  const answer = reportedApiError(internalError('r-9'), secret, 'r-9', report);
  assert.doesNotMatch(JSON.stringify({ message: answer.message, details: answer.details }), /EACCES|srv|credentials/);
  const down = new Error('connect ECONNREFUSED 10.0.3.7:6379');
  const unavailable = reportedApiError(dependencyUnavailable('DEPENDENCY_UNAVAILABLE', 'Redis is unavailable; retry later', 'r-10'), down, 'r-10', report);
  assert.equal(unavailable.message, 'Redis is unavailable; retry later (request id r-10)');
  assert.deepEqual([unavailable.status, unavailable.retryAfter, unavailable.details], [503, 5, { requestId: 'r-10' }]);
  reportedApiError(new ApiError(404, 'NOT_FOUND', 'no such item'), secret, 'r-11', report);
  reportedApiError(internalError('r-12'), secret, 'r-12', undefined);
  assert.deepEqual(reported, [[secret, 'r-9', 500], [down, 'r-10', 503]]);
});
