import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { FolderLockBusyError, withFolderLock } from './folder-lock.ts';
import { withTempDir } from './test-support/temp-dir.ts';

test('a folder lock is released after its body, also when the body fails', () => withTempDir('gradcam-lock-', async (dir) => {
  const file = join(dir, '.lock');
  assert.equal(await withFolderLock(file, async () => (await readdir(dir)).join(' ')), '.lock');
  await assert.rejects(withFolderLock(file, () => Promise.reject(new Error('boom'))), /boom/);
  assert.deepEqual(await readdir(dir), []);
}));

test("a lock whose process is gone is taken over; a live holder's is waited for, then OUTPUT_BUSY", () => withTempDir('gradcam-lock-', async (dir) => {
  const file = join(dir, '.lock');
  const done = spawn(process.execPath, ['-e', '']);
  await new Promise((resolve) => done.once('close', resolve));
  await writeFile(file, `${done.pid}\n`);
  assert.equal(await withFolderLock(file, async () => 'taken over'), 'taken over');

  const live = spawn('sleep', ['30']);
  try {
    await writeFile(file, `${live.pid}\n`);
    const started = Date.now();
    await assert.rejects(withFolderLock(file, async () => 'never', { waitMs: 300 }), (error: unknown) => error instanceof FolderLockBusyError && error.code === 'OUTPUT_BUSY' && error.message.includes(`pid ${live.pid}`));
    assert.ok(Date.now() - started >= 300);
  } finally {
    live.kill();
  }
}));
