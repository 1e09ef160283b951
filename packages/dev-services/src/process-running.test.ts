import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import { processRunning, processRunningIn } from './process-running.ts';

test('processRunning tells a live process from a gone one, also where there is no /proc (macOS)', async () => {
  const gone = spawn(process.execPath, ['-e', '']);
  await new Promise((resolve) => gone.once('close', resolve));
  for (const running of [processRunning, (pid: number) => processRunningIn('/no-proc-here', pid)]) {
    assert.equal(running(process.pid), true);
    assert.equal(running(gone.pid as number), false);
  }
});
