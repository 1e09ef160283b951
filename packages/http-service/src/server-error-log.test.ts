import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { ApiError, dependencyUnavailable, failureKind, internalError, logServerErrors } from './index.ts';

const errno = (message: string, code: string) => Object.assign(new Error(message), { code });

test('failureKind: the deepest cause, by class and code (or the first word of its message), never its keys or hosts', () => {
  const wrapped = new Error('review pool: leasing an item: connect ECONNREFUSED 10.0.3.7:6379', { cause: errno('connect ECONNREFUSED 10.0.3.7:6379', 'ECONNREFUSED') });
  assert.equal(failureKind(wrapped), 'Error: ECONNREFUSED');
  class ReplyError extends Error {
    override name = 'ReplyError';
  }
  assert.equal(failureKind(new Error('could not record', { cause: new ReplyError("READONLY You can't write against a read only replica.") })), 'ReplyError: READONLY');
  assert.equal(failureKind('a string'), 'string');
  // A message's first word only when it is an upper-case token: never a path or a key.
  assert.equal(failureKind(new Error('/srv/gradcam/captures/a/prediction.json: no such file')), 'Error');
  assert.equal(failureKind(new Error('socket hang up')), 'Error');
  assert.equal(failureKind(new Error('wrapped', { cause: { code: 'ECONNREFUSED' } })), 'ECONNREFUSED', "a cause that is not an Error still has its code");
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
    ['e', undefined, 'request answered 503 STORAGE_UNAVAILABLE (Error)'],
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

test('logServerErrors: two bugs of one kind in one request, thrown in different places, are both logged', () => {
  const errors: unknown[] = [];
  const report = logServerErrors({ error: (fields: object) => void errors.push((fields as { err: unknown }).err), warn: () => {}, debug: () => {} });
  const readFolder = (item: { folder: string } | undefined) => item?.folder.length;
  const readImage = (record: { image: { uri: string } } | null) => record?.image.uri.length;
  const thrown: unknown[] = [];
  for (const call of [() => readFolder({} as { folder: string }), () => readImage({} as { image: { uri: string } })]) {
    try {
      call();
    } catch (error) {
      thrown.push(error);
    }
  }
  // Two parse failures thrown by JSON.parse itself, called from two places.
  for (const call of [() => JSON.parse('{"record": ') as unknown, () => JSON.parse('not json') as unknown]) {
    try {
      call();
    } catch (error) {
      thrown.push(error);
    }
  }
  for (const error of [...thrown, ...thrown]) report(error, 'batch-3', internalError('batch-3'));
  assert.deepEqual(errors, thrown);
});

test('logServerErrors: a 503 whose answer says it all (no worker announced its models) is a throttled warning with that answer', () => {
  const warnings: [Record<string, unknown>, string][] = [];
  const report = logServerErrors({ error: () => {}, warn: (fields: object, message: string) => void warnings.push([{ ...fields }, message]), debug: () => {} });
  const answer = new ApiError(503, 'MODELS_NOT_ANNOUNCED', 'no worker has announced its models yet (workers starting?); retry later', undefined, 15);
  for (const id of ['m-1', 'm-2']) report(answer, id, answer);
  assert.deepEqual(warnings, [[{ answer: answer.message, requestId: 'm-1', kind: 'MODELS_NOT_ANNOUNCED' }, 'request answered 503 MODELS_NOT_ANNOUNCED']]);
});
