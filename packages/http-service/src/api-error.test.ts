import assert from 'node:assert/strict';
import { test } from 'node:test';
import { internalError, reportedApiError } from './index.ts';

test("internalError: a fixed line naming the request id, never the error's words (they may name files, keys or hosts)", () => {
  const answer = internalError('7d0c4f4e-1b8e-4f43-9d1b-1f2a3b4c5d6e');
  assert.deepEqual([answer.status, answer.code, answer.retryAfter], [500, 'INTERNAL', undefined]);
  assert.equal(answer.message, "an unexpected error occurred; the service's log has the details under request id 7d0c4f4e-1b8e-4f43-9d1b-1f2a3b4c5d6e");
  assert.deepEqual(answer.details, { requestId: '7d0c4f4e-1b8e-4f43-9d1b-1f2a3b4c5d6e' });
  assert.equal(internalError('r-1', 'storage refused the request (STORAGE_BUCKET_NOT_FOUND)').message, "storage refused the request (STORAGE_BUCKET_NOT_FOUND); the service's log has the details under request id r-1");
});

test('reportedApiError: the log is told of a 500 with the request id its answer names; a 503 or a 4xx is not reported', () => {
  const secret = new Error("EACCES: permission denied, open '/srv/gradcam/keys/s3-credentials.json'");
  const reported: [unknown, string][] = [];
  const report = (error: unknown, requestId: string) => void reported.push([error, requestId]);
  const answer = reportedApiError(internalError('r-9'), secret, 'r-9', report);
  assert.doesNotMatch(JSON.stringify({ message: answer.message, details: answer.details }), /EACCES|srv|credentials/);
  assert.deepEqual(reported, [[secret, 'r-9']]);
  reportedApiError(internalError('r-10'), secret, 'r-10', undefined);
  assert.equal(reported.length, 1);
});
