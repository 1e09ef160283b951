import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmod, mkdir, readdir, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { FolderLockBusyError, FolderLockUnusableError, withFolderLock } from './folder-lock.ts';
import { runWithLockReplacedBeforeRemoval } from './test-support/lock-race.ts';
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

test('a lock path that is a folder, a link leading nowhere or a FIFO is refused as OUTPUT_LOCK_UNUSABLE, not spun on for ever', { timeout: 60_000 }, () => withTempDir('gradcam-lock-odd-', async (dir) => {
  const old = new Date(Date.now() - 3_600_000);
  const folder = join(dir, 'folder.lock');
  await mkdir(folder);
  await utimes(folder, old, old);
  const dangling = join(dir, 'dangling.lock');
  await symlink(join(dir, 'nowhere'), dangling);
  const fifo = join(dir, 'fifo.lock');
  assert.equal(spawnSync('mkfifo', [fifo]).status, 0);
  for (const [file, what] of [[folder, 'a folder'], [dangling, 'a symbolic link'], [fifo, 'a special file']] as const) {
    await assert.rejects(
      withFolderLock(file, async () => 'never'),
      (error: unknown) => error instanceof FolderLockUnusableError && error.code === 'OUTPUT_LOCK_UNUSABLE' && error.message === `the lock ${file} is not a file (${what}); remove it if no gradcam explain writes there now`,
      what,
    );
  }
}));

/** Runs as another user (nobody), for a file that user may not read: needs root and setpriv. */
const asOtherUser = process.getuid?.() === 0 && spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', 'true']).status === 0;

test("a lock another user's killed run left, that this user may not read, is OUTPUT_LOCK_UNUSABLE, not spun on for ever", { skip: !asOtherUser && 'needs root and setpriv', timeout: 60_000 }, () => withTempDir('gradcam-lock-eacces-', async (dir) => {
  await chmod(dir, 0o777);
  const file = join(dir, '.lock');
  const done = spawn(process.execPath, ['-e', '']);
  await new Promise((resolve) => done.once('close', resolve));
  await writeFile(file, `${done.pid}\n`, { mode: 0o600 });
  const old = new Date(Date.now() - 3_600_000);
  await utimes(file, old, old);
  const lockModule = new URL('./folder-lock.ts', import.meta.url).href;
  const script = `import { withFolderLock } from ${JSON.stringify(lockModule)};
const result = await withFolderLock(process.argv[1], async () => 'held').catch((error) => error.code);
console.log(JSON.stringify({ result }));`;
  const child = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, '--import', 'tsx', '--input-type=module', '-e', script, file], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(child.status, 0, child.stderr);
  assert.deepEqual(JSON.parse(child.stdout), { result: 'OUTPUT_LOCK_UNUSABLE' });
}));

test("a stale lock that another run replaced with its live one just before this run's removal is waited for, not removed", () => withTempDir('gradcam-lock-race-', async (dir) => {
  const file = join(dir, '.lock');
  const done = spawn(process.execPath, ['-e', '']);
  await new Promise((resolve) => done.once('close', resolve));
  await writeFile(file, `${done.pid}\n`);
  const live = spawn('sleep', ['30']);
  try {
    const other = `${live.pid}\n`;
    const script = `import { existsSync, readFileSync } from 'node:fs';
import { withFolderLock } from ${JSON.stringify(new URL('./folder-lock.ts', import.meta.url).href)};
const result = await withFolderLock(${JSON.stringify(file)}, async () => 'held', { waitMs: 300 }).catch((error) => error.code + ': ' + error.message);
console.log(JSON.stringify({ result, lock: existsSync(${JSON.stringify(file)}) ? readFileSync(${JSON.stringify(file)}, 'utf8') : null }));`;
    const run = await runWithLockReplacedBeforeRemoval(dir, file, other, script);
    assert.equal(run.status, 0, run.stderr);
    const { result, lock } = JSON.parse(run.stdout) as { result: string; lock: string };
    assert.ok(result.startsWith(`OUTPUT_BUSY: another process (pid ${live.pid}) has been writing here`), result);
    assert.equal(lock, other, "the other run's lock is still there");
  } finally {
    live.kill();
  }
}));
