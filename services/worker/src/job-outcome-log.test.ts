import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { JobFinishedEvent } from '@gradcam/queue';
import { createJobOutcomeLog } from './job-outcome-log.ts';

function recordingLog(): { lines: string[]; log: { info(m: string): void; warn(m: string): void; error(m: string): void } } {
  const lines: string[] = [];
  return { lines, log: { info: (m) => lines.push(`info ${m}`), warn: (m) => lines.push(`warn ${m}`), error: (m) => lines.push(`error ${m}`) } };
}

test('an outage of many jobs is a line per kind and window, with the count, the code and a few ids; completed jobs are not told', async () => {
  const { lines, log } = recordingLog();
  const outcomes = createJobOutcomeLog(log, { gatherMs: 50, everyMs: 400, ids: 3 });
  const retried = (id: string, made: number): JobFinishedEvent => ({ jobId: id, outcome: 'retried', code: 'STORAGE_UNAVAILABLE', attempts: { made, max: 5 } });
  for (let i = 0; i < 10; i++) outcomes.record(retried(`j${i}`, 1));
  outcomes.record({ jobId: 'ok', outcome: 'completed' });
  assert.deepEqual(lines, [], 'the first waits for its batch-mates');
  await sleep(150);
  assert.deepEqual(lines, ['warn 10 jobs failed an attempt with STORAGE_UNAVAILABLE and will be retried after a backoff, attempt 1 of 5 (the last of them): j0, j1, j2, … (7 more)']);
  // More of the same kind within the window: one line at its end.
  for (let i = 10; i < 15; i++) outcomes.record(retried(`j${i}`, 2));
  await sleep(150);
  assert.equal(lines.length, 1, 'not before the window ends');
  await sleep(300);
  assert.deepEqual(lines.slice(1), ['warn 5 jobs failed an attempt with STORAGE_UNAVAILABLE and will be retried after a backoff, attempt 2 of 5 (the last of them): j10, j11, j12, … (2 more)']);
  outcomes.close();
});

test('levels: failed for good after every attempt is an error, failed at once a warning, handed back info; close() tells what is untold', async () => {
  const { lines, log } = recordingLog();
  const outcomes = createJobOutcomeLog(log, { gatherMs: 10_000 });
  outcomes.record({ jobId: 'a', outcome: 'failed', code: 'STORAGE_UNAVAILABLE', attempts: { made: 5, max: 5 } });
  outcomes.record({ jobId: 'b', outcome: 'failed', code: 'IMAGE_CORRUPT', attempts: { made: 1, max: 5 } });
  outcomes.record({ jobId: 'c', outcome: 'deferred', code: 'STORAGE_UNAVAILABLE' });
  outcomes.record({ jobId: 'd', outcome: 'deferred', code: 'STORAGE_UNAVAILABLE' });
  outcomes.close();
  assert.deepEqual(lines, [
    'error 1 job failed for good with STORAGE_UNAVAILABLE after every attempt, attempt 5 of 5; they stay in the failed set: a',
    'warn 1 job failed at once with IMAGE_CORRUPT, not retried (the job itself cannot succeed): b',
    'info 2 jobs handed back to the queue with STORAGE_UNAVAILABLE, no attempt counted: c, d',
  ]);
  outcomes.record({ jobId: 'e', outcome: 'failed', code: 'IMAGE_CORRUPT', attempts: { made: 1, max: 5 } });
  outcomes.close();
  assert.equal(lines.length, 3, 'nothing after close()');
});
