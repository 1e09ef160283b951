import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createThrottledErrorLog, errorKind } from './throttled-error-log.ts';

test('errors of one kind differ only in numbers, job ids and listed ids', () => {
  assert.equal(errorKind('connect ECONNRESET 127.0.0.1:6379'), errorKind('connect ECONNRESET 127.0.0.1:6380'));
  assert.equal(errorKind('Missing lock for job abc-1. moveToFinished'), errorKind('Missing lock for job x_y. moveToFinished'));
  assert.notEqual(errorKind('Missing lock for job abc-1. moveToFinished'), errorKind('Missing lock for job abc-1. moveToDelayed'));
  assert.equal(errorKind('could not renew the lock of 8 job(s) (a, b, c): they may run again elsewhere'), errorKind('could not renew the lock of 2 job(s) (d): they may run again elsewhere'));
  assert.notEqual(errorKind('read ECONNRESET'), errorKind('write ECONNRESET'));
});

test('a storm of one kind: the first at once, then one line per window with the count and the last; another kind is told at once; a kind gone quiet is told at once again', async () => {
  const lines: string[] = [];
  const errors = createThrottledErrorLog((m) => lines.push(m), { everyMs: 200 });
  for (let port = 1; port <= 50; port++) errors.report(new Error(`connect ECONNRESET 127.0.0.1:${port}`));
  errors.report(new Error('read ECONNRESET'));
  assert.deepEqual(lines, ['connect ECONNRESET 127.0.0.1:1', 'read ECONNRESET']);
  await sleep(250);
  assert.deepEqual(lines.slice(2), ['49 more like it in the last 1 s, the last: connect ECONNRESET 127.0.0.1:50']);
  errors.report(new Error('connect ECONNRESET 127.0.0.1:51'));
  await sleep(250);
  assert.deepEqual(lines.slice(3), ['1 more like it in the last 1 s, the last: connect ECONNRESET 127.0.0.1:51']);
  // A whole window without it: the next is told at once.
  await sleep(250);
  errors.report(new Error('connect ECONNRESET 127.0.0.1:52'));
  assert.deepEqual(lines.slice(4), ['connect ECONNRESET 127.0.0.1:52']);
  errors.report(new Error('connect ECONNRESET 127.0.0.1:53'));
  errors.close();
  assert.deepEqual(lines.slice(5), ['1 more like it in the last 1 s, the last: connect ECONNRESET 127.0.0.1:53']);
});
