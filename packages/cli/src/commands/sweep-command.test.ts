import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { UsageError } from '../cli-error.ts';
import { sweepCommand } from './sweep-command.ts';

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
