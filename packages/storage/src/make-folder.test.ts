import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { makeFirstMissing, makeFirstMissingSync, makeFolder, makeFolderSync, maxWriteTries, retriesWrite } from './make-folder.mjs';

/** What a recursive mkdir answered: the error whose real cause the plain mkdir looks for. */
const missing = Object.assign(new Error('ENOENT: no such file or directory, mkdir'), { code: 'ENOENT' });
const codeOf = (error: unknown) => (error as { code?: string } | undefined)?.code;

// Both twins, so the I/O threads (synchronous calls) and the streamed put (fs/promises) are held
// to the same answers.
const twins = [
  { name: 'sync', makeFirstMissing: (folder: string) => Promise.resolve(makeFirstMissingSync(folder, missing)), makeFolder: (folder: string) => Promise.resolve(makeFolderSync(folder)) },
  { name: 'fs/promises', makeFirstMissing: (folder: string) => makeFirstMissing(folder, missing), makeFolder },
];

for (const twin of twins) {
  test(`after a recursive mkdir's ENOENT, a plain mkdir finds the real cause or a race (${twin.name})`, async () => {
    const dir = await mkdtemp(join(tmpdir(), 'gradcam-make-folder-'));
    try {
      // The folder itself was the one missing (a delete removed it during the recursive mkdir):
      // made now, nothing left to do.
      assert.deepEqual(await twin.makeFirstMissing(join(dir, 'a')), { created: join(dir, 'a') });
      // Several missing: the topmost is made, and the put tries again (ENOENT) to make the rest.
      const deeper = await twin.makeFirstMissing(join(dir, 'b', 'c', 'd'));
      assert.equal(deeper.created, join(dir, 'b'));
      assert.equal(deeper.error, missing);
      assert.deepEqual(await readdir(join(dir, 'b')), []);
      // There by now (another put made it again): try again.
      assert.deepEqual(await twin.makeFirstMissing(join(dir, 'a')), { error: missing });
      // A file in the way: the real errno, ENOTDIR, not ENOENT, and no try again. (Running as root
      // defeats a read-only folder made with chmod; the read-only volume itself, EROFS, is tested
      // in fs-blob-store-faults.test.ts, in a private mount namespace.)
      await writeFile(join(dir, 'file'), 'x');
      const blocked = await twin.makeFirstMissing(join(dir, 'file', 'x', 'y'));
      assert.equal(blocked.created, undefined);
      assert.equal(codeOf(blocked.error), 'ENOTDIR');
      assert.equal(retriesWrite(codeOf(blocked.error), 1), false);
      // A dangling symlink where a folder should be: mkdir -p reads it as missing, a plain mkdir
      // as there; it is no folder, so no try would ever succeed: ENOTDIR, not ENOENT.
      await symlink(join(dir, 'nowhere'), join(dir, 'dangling'));
      const dangling = await twin.makeFirstMissing(join(dir, 'dangling'));
      assert.equal(codeOf(dangling.error), 'ENOTDIR');
      assert.equal(retriesWrite(codeOf(dangling.error), 1), false);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test(`makeFolder answers as a recursive mkdir does when nothing races it (${twin.name})`, async () => {
    const dir = await mkdtemp(join(tmpdir(), 'gradcam-make-folder-'));
    try {
      assert.deepEqual(await twin.makeFolder(join(dir, 'a', 'b')), { created: join(dir, 'a') });
      assert.deepEqual(await twin.makeFolder(join(dir, 'a', 'b')), { created: undefined }, 'there already: nothing made');
      await mkdir(join(dir, 'c'));
      await writeFile(join(dir, 'c', 'file'), 'x');
      const through = await twin.makeFolder(join(dir, 'c', 'file', 'd'));
      assert.equal(codeOf(through.error), 'ENOTDIR', 'a key through an object');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
}

test('a put tries again only on ENOENT, and at most maxWriteTries times', () => {
  assert.equal(retriesWrite('ENOENT', 1), true);
  assert.equal(retriesWrite('ENOENT', maxWriteTries - 1), true);
  assert.equal(retriesWrite('ENOENT', maxWriteTries), false);
  for (const code of ['EROFS', 'EACCES', 'ENOTDIR', 'ETIMEDOUT', undefined]) assert.equal(retriesWrite(code, 1), false, String(code));
});
