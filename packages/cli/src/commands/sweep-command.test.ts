import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readdir, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { UsageError } from '../cli-error.ts';
import { withTempDir } from '../test-support/temp-dir.ts';
import { sweepCommand } from './sweep-command.ts';

const bin = fileURLToPath(new URL('../../bin/gradcam.js', import.meta.url));

test('sweep-partials refuses an age under a minute, which would remove writes still in progress', async () => {
  const store = await mkdtemp(join(tmpdir(), 'gradcam-sweep-floor-'));
  const folder = join(store, 'm', 'v1', 'abc');
  await mkdir(folder, { recursive: true });
  const live = '.explanation.json.0123456789abcdef.partial';
  await writeFile(join(folder, live), 'being written right now');
  for (const age of ['0s', '0m', '59s', '0.5m']) {
    await assert.rejects(
      sweepCommand([store, '--older-than', age]),
      (error: unknown) => error instanceof UsageError && /at least 1m: younger temporary files may be writes still in progress/.test(error.message),
      age,
    );
  }
  assert.deepEqual(await readdir(folder), [live]);
  const log = console.log;
  console.log = () => {};
  try {
    assert.equal(await sweepCommand([store, '--older-than', '60s']), 0);
  } finally {
    console.log = log;
  }
  assert.deepEqual(await readdir(folder), [live], 'a file touched just now is kept at the floor');
});

/** Another user than root, for whom a folder of mode 000 is unreadable (root reads it anyway): none where this cannot be arranged. */
const otherUser = (() => {
  if (process.getuid?.() !== 0) return [];
  return spawnSync('setpriv', ['--reuid=nobody', '--regid=nogroup', '--clear-groups', 'true']).status === 0 ? ['setpriv', '--reuid=nobody', '--regid=nogroup', '--clear-groups'] : undefined;
})();

test('a folder it may not read is one line, and the rest of the store is still swept (exit 1)', { skip: otherUser === undefined && 'root, and no setpriv to run as another user' }, () => withTempDir('gradcam-sweep-denied-', async (store) => {
  const stale = join(store, 'a', '.x.json.0123456789abcdef.partial');
  const locked = join(store, 'locked');
  await mkdir(join(store, 'a'));
  await mkdir(locked);
  await writeFile(stale, 'half');
  await writeFile(join(store, 'z.json'), '{}');
  const hoursAgo = new Date(Date.now() - 3 * 3_600_000);
  await utimes(stale, hoursAgo, hoursAgo);
  if (otherUser && otherUser.length > 0) spawnSync('chown', ['-R', 'nobody', store]);
  await chmod(locked, 0o000);
  try {
    const [command = process.execPath, ...rest] = [...(otherUser ?? []), process.execPath];
    const run = spawnSync(command, [...rest, bin, 'sweep-partials', store], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(run.status, 1, run.stderr);
    assert.deepEqual(run.stderr.trim().split('\n').filter((l) => !l.startsWith('Warning: ')), [`✗ ${locked}: EACCES: permission denied (not swept)`]);
    assert.match(run.stdout, /^removed 1 temporary file \(0\.0 MB\) in .*; kept 0 modified in the last 1h; 1 folder or file could not be swept$/m);
    assert.deepEqual(await readdir(join(store, 'a')).catch(() => 'gone'), 'gone', 'the stale one went, and the folder it left empty');
  } finally {
    await chmod(locked, 0o755);
  }
}));
