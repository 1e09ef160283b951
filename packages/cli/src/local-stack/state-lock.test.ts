import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { runWithLockReplacedBeforeRemoval } from '../test-support/lock-race.ts';
import { LocalStackError } from './local-stack-error.ts';
import { processStartTime } from './process-identity.ts';
import { acquireStateLock, stateLockFileName } from './state-lock.ts';

/** A state folder whose lock file holds `content` (with `{pid}` and `{start}` of a live process), and that process. */
async function withLock(content: string, args: readonly string[], body: (stateDir: string, holder: ChildProcess) => Promise<void>): Promise<void> {
  const stateDir = await mkdtemp(join(tmpdir(), 'gradcam-lock-'));
  const holder = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)', ...args], { stdio: 'ignore' });
  try {
    await once(holder, 'spawn');
    const pid = holder.pid as number;
    await writeFile(join(stateDir, stateLockFileName), content.replace('{pid}', String(pid)).replace('{start}', processStartTime(pid) ?? 'none'));
    await body(stateDir, holder);
  } finally {
    holder.kill('SIGKILL');
    await rm(stateDir, { recursive: true, force: true });
  }
}

async function takenOver(stateDir: string): Promise<void> {
  const lock = await acquireStateLock(stateDir);
  try {
    assert.equal(await readFile(join(stateDir, stateLockFileName), 'utf8'), `${process.pid}\nstarttime ${processStartTime(process.pid)}\n`);
  } finally {
    await lock.release();
  }
}

const refused = (stateDir: string, holder: ChildProcess) =>
  assert.rejects(acquireStateLock(stateDir), (error: unknown) => {
    assert.ok(error instanceof LocalStackError, String(error));
    assert.equal(error.code, 'STACK_RUNNING');
    assert.match(error.message, new RegExp(`^another gradcam up \\(pid ${holder.pid}\\) is running on `));
    return true;
  });

test('a lock whose pid now belongs to another process (started later: a reboot, a reused pid) is taken over', async () => {
  await withLock('{pid}\nstarttime 1\n', [], (stateDir) => takenOver(stateDir));
});

test('an older version\'s lock (a pid alone) is taken over when its process is not gradcam up', async () => {
  await withLock('{pid}\n', [], (stateDir) => takenOver(stateDir));
});

test('a lock whose process is the one that wrote it is held', async () => {
  await withLock('{pid}\nstarttime {start}\n', [], refused);
});

test('an older version\'s lock (a pid alone) is held while its process is a gradcam up', async () => {
  await withLock('{pid}\n', ['/repo/packages/cli/bin/gradcam.js', 'up'], refused);
});

test('a lock that names no process yet (a gradcam up between creating it and writing its pid) is held; one older than 5 s is taken over', async () => {
  const stateDir = await mkdtemp(join(tmpdir(), 'gradcam-lock-'));
  try {
    const file = join(stateDir, stateLockFileName);
    await writeFile(file, '');
    await assert.rejects(acquireStateLock(stateDir), (error: unknown) => {
      assert.ok(error instanceof LocalStackError, String(error));
      assert.equal(error.code, 'STACK_RUNNING');
      assert.equal(error.message, `could not claim ${file}: another gradcam up is starting on ${stateDir}`);
      return true;
    });
    assert.equal(await readFile(file, 'utf8'), '', 'left to the gradcam up that made it');
    const old = new Date(Date.now() - 10_000);
    await utimes(file, old, old);
    await takenOver(stateDir);
  } finally {
    await rm(stateDir, { recursive: true, force: true });
  }
});

test("a stale lock that another taker replaced with its live one just before this one's removal is left to that taker", async () => {
  // The stale lock: the holder's pid with another start time (a reused pid); the other taker's: the holder's own.
  await withLock('{pid}\nstarttime 1\n', [], async (stateDir, holder) => {
    const file = join(stateDir, stateLockFileName);
    const live = `${holder.pid}\nstarttime ${processStartTime(holder.pid as number)}\n`;
    const script = `import { existsSync, readFileSync } from 'node:fs';
import { acquireStateLock } from ${JSON.stringify(new URL('./state-lock.ts', import.meta.url).href)};
const result = await acquireStateLock(${JSON.stringify(stateDir)}).then(() => 'claimed', (error) => error.message);
console.log(JSON.stringify({ result, lock: existsSync(${JSON.stringify(file)}) ? readFileSync(${JSON.stringify(file)}, 'utf8') : null }));`;
    const run = await runWithLockReplacedBeforeRemoval(stateDir, file, live, script);
    assert.equal(run.status, 0, run.stderr);
    const { result, lock } = JSON.parse(run.stdout) as { result: string; lock: string };
    assert.match(result, new RegExp(`^another gradcam up \\(pid ${holder.pid}\\) is running on `));
    assert.equal(lock, live, "the other taker's lock is still there");
  });
});

test('a state folder removed between its check and the lock (by another gradcam up refused on it) is refused in one line, not a raw ENOENT', async () => {
  const parent = await mkdtemp(join(tmpdir(), 'gradcam-lock-'));
  try {
    const stateDir = join(parent, 'removed');
    await assert.rejects(acquireStateLock(stateDir), (error: unknown) => {
      assert.ok(error instanceof LocalStackError, String(error));
      assert.equal(error.code, 'STATE_DIR_GONE');
      assert.equal(error.message, `could not claim ${join(stateDir, stateLockFileName)}: ${stateDir} was removed meanwhile (another gradcam up, refused on it, took away the folder it had made); run gradcam up again`);
      return true;
    });
  } finally {
    await rm(parent, { recursive: true, force: true });
  }
});
