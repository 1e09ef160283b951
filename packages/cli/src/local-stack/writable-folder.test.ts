import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { ConfigError } from '@gradcam/config';
import { withTempDir } from '../test-support/temp-dir.ts';
import { makeWritableFolder } from './writable-folder.ts';

const run = promisify(execFile);
const here = fileURLToPath(new URL('.', import.meta.url));

test('makeWritableFolder makes missing folders and their subfolders, and names the variable for one that can never be a folder', async () => {
  await withTempDir('gradcam-writable-', async (dir) => {
    const target = join(dir, 'a', 'b', 'store');
    await makeWritableFolder('GRADCAM_STORAGE_DIR', target, ['redis']);
    assert.ok((await stat(join(target, 'redis'))).isDirectory());
    await makeWritableFolder('GRADCAM_STORAGE_DIR', target, ['redis']);

    const file = join(dir, 'a-file');
    await writeFile(file, 'not a folder');
    for (const path of ['/dev/null/store', file, join(file, 'store')]) {
      await assert.rejects(makeWritableFolder('GRADCAM_STORAGE_DIR', path), (error: unknown) => {
        assert.ok(error instanceof ConfigError, `${path}: ${String(error)}`);
        assert.equal(error.message, `GRADCAM_STORAGE_DIR: ${path} is a file, or a file is in its way; point it at a folder`);
        return true;
      });
    }
  });
});

// Node's recursive mkdir never settles when a folder's mkdir fails ENOENT under a parent that
// exists (procfs does that): `gradcam up` with GRADCAM_STORAGE_DIR=/proc/… spun a core for ever,
// and outlived the launcher that was killed, since the pending mkdir kept its event loop alive.
// Run in a child process: before the fix the call never settles and would hold this test's.
test('a folder whose mkdir fails ENOENT under an existing parent (/proc/…) is refused at once, not retried for ever', { skip: !existsSync('/proc/self') }, async () => {
  const script = `
    import { makeWritableFolder } from ${JSON.stringify(join(here, 'writable-folder.ts'))};
    makeWritableFolder('GRADCAM_STORAGE_DIR', '/proc/gradcam-no-such-folder/store').then(
      () => console.log('made'),
      (error) => console.log(error.constructor.name + ': ' + error.message),
    );`;
  const outcome = await run(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { timeout: 15_000, killSignal: 'SIGKILL' }).then(
    ({ stdout }) => stdout.trim(),
    (error: { killed?: boolean; stdout?: string }) => (error.killed ? 'still trying after 15 s' : `failed: ${error.stdout ?? ''}`),
  );
  assert.equal(outcome, 'ConfigError: GRADCAM_STORAGE_DIR: /proc/gradcam-no-such-folder/store cannot be created (ENOENT); point it at a folder');
});
