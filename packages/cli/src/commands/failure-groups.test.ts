import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { FailedJob } from '@gradcam/queue';
import { groupFailures, leftOutLine } from './failure-groups.ts';

const failed = (id: string, code: string): FailedJob => ({ id, code, message: 'why', failedAt: 0, attemptsMade: 1, maxAttempts: 5, exhausted: false });

test('retry\'s left-out line: a replaced image is resubmitted under a new id, never retried; other bad input once its cause is fixed', () => {
  const [changed, corrupt] = groupFailures([failed('a', 'IMAGE_CHANGED'), failed('b', 'IMAGE_CHANGED'), failed('c', 'IMAGE_CORRUPT')]);
  assert.equal(
    leftOutLine(changed!),
    'left out: IMAGE_CHANGED, 2 jobs whose image was replaced after ingest accepted the record; a retry fails the same way: resubmit each record, with the image it was predicted on, under a new id',
  );
  assert.equal(leftOutLine(corrupt!), 'left out: IMAGE_CORRUPT, 1 job that failed at once; name it with --code IMAGE_CORRUPT (or the ids with --id) once the cause is fixed');
});
