import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
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

/** A user and mount namespace may mount a tmpfs: a real file system whose size a test sets. */
const tmpfsMountable = spawnSync('unshare', ['-Urm', 'sh', '-c', 'mount -t tmpfs tmpfs "$1"', 'sh', tmpdir()]).status === 0;

test('a full disk that gives the lock file its inode but not its pid leaves no empty lock behind', { skip: !tmpfsMountable && 'cannot mount a tmpfs in a user namespace' }, () => withTempDir('gradcam-lock-full-', async (dir) => {
  const lockModule = new URL('./folder-lock.ts', import.meta.url).href;
  const script = `import { withFolderLock } from ${JSON.stringify(lockModule)};
import { readdirSync, writeFileSync } from 'node:fs';
const dir = process.argv[1];
// One page of tmpfs, taken whole: inodes are left, blocks are not.
try { writeFileSync(dir + '/fill', Buffer.alloc(64 * 1024)); } catch {}
const result = await withFolderLock(dir + '/.lock', async () => 'held').catch((error) => error.code);
console.log(JSON.stringify({ result, left: readdirSync(dir).filter((name) => name !== 'fill') }));`;
  const outer = spawnSync('unshare', ['-Urm', 'sh', '-c', 'mount -t tmpfs -o size=4k tmpfs "$1" && exec "$2" --import tsx --input-type=module -e "$3" "$1"', 'sh', dir, process.execPath, script], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(outer.status, 0, outer.stderr);
  assert.deepEqual(JSON.parse(outer.stdout), { result: 'ENOSPC', left: [] });
}));
