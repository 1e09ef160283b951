import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { dependencyUnavailable, failureKind, internalError, logServerErrors } from './index.ts';

const errno = (message: string, code: string) => Object.assign(new Error(message), { code });

test('failureKind: the deepest cause, by class and code (or the first word of its message), never its keys or hosts', () => {
  const wrapped = new Error('review pool: leasing an item: connect ECONNREFUSED 10.0.3.7:6379', { cause: errno('connect ECONNREFUSED 10.0.3.7:6379', 'ECONNREFUSED') });
  assert.equal(failureKind(wrapped), 'Error: ECONNREFUSED');
  class ReplyError extends Error {
    override name = 'ReplyError';
  }
  assert.equal(failureKind(new Error('could not record', { cause: new ReplyError("READONLY You can't write against a read only replica.") })), 'ReplyError: READONLY');
  assert.equal(failureKind('a string'), 'string');
});

test('logServerErrors: a 503 is a debug line each, and a warning for the first of each code and kind, then one a minute with the count left untold', async () => {
  const lines: [string, Record<string, unknown>, string][] = [];
  const at = (level: string) => (fields: object, message: string) => void lines.push([level, { ...fields }, message]);
  const everyMs = 200;
  const report = logServerErrors({ error: at('error'), warn: at('warn'), debug: at('debug') }, everyMs);
  const refused = errno('connect ECONNREFUSED 10.0.3.7:6379', 'ECONNREFUSED');
  const readOnly = new Error("READONLY You can't write against a read only replica.");
  const redis = (error: Error, id: string) => report(error, id, dependencyUnavailable('DEPENDENCY_UNAVAILABLE', 'Redis is unavailable', id));
  for (const id of ['a', 'b', 'c']) redis(refused, id);
  // A failover: another kind of failure under the same code is told at once.
  redis(readOnly, 'd');
  report(new Error('socket hang up'), 'e', dependencyUnavailable('STORAGE_UNAVAILABLE', 'storage is unavailable', 'e'));
  await sleep(everyMs + 50);
  redis(refused, 'f');
  const warnings = lines.filter(([level]) => level === 'warn').map(([, fields, message]) => [fields.requestId, fields.untold, message]);
  assert.deepEqual(warnings, [
    ['a', undefined, 'request answered 503 DEPENDENCY_UNAVAILABLE (Error: ECONNREFUSED)'],
    ['d', undefined, 'request answered 503 DEPENDENCY_UNAVAILABLE (Error: READONLY)'],
    ['e', undefined, 'request answered 503 STORAGE_UNAVAILABLE (Error: socket)'],
    ['f', 2, 'request answered 503 DEPENDENCY_UNAVAILABLE (Error: ECONNREFUSED), and 2 more like it since the last told, at debug level only'],
  ]);
  assert.equal(lines.find(([level]) => level === 'warn')?.[1].err, refused, 'the whole error the client was not told');
  // Every 503 can be found by its request id.
  assert.deepEqual(lines.filter(([level]) => level === 'debug').map(([, fields]) => fields.requestId), ['a', 'b', 'c', 'd', 'e', 'f']);
});

test('logServerErrors: a 500 in full, once per request and kind of failure (a batch whose records fail alike)', () => {
  const lines: [string, Record<string, unknown>][] = [];
  const at = (level: string) => (fields: object) => void lines.push([level, { ...fields }]);
  const report = logServerErrors({ error: at('error'), warn: at('warn'), debug: at('debug') });
  const denied = errno('filesystem put captures/a/input.jpg: EACCES', 'EACCES');
  for (let i = 0; i < 1_000; i++) report(denied, 'batch-1', internalError('batch-1'));
  report(new TypeError('x is not a function'), 'batch-1', internalError('batch-1'));
  report(denied, 'batch-2', internalError('batch-2'));
  assert.deepEqual(lines.map(([level, fields]) => [level, fields.requestId, fields.err]), [
    ['error', 'batch-1', denied],
    ['error', 'batch-1', lines[1]?.[1].err],
    ['error', 'batch-2', denied],
  ]);
  assert.ok(lines[1]?.[1].err instanceof TypeError);
});
