import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fsp, { chmod, copyFile, mkdir, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { syncBuiltinESMExports } from 'node:module';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { listInputFiles, readInputFile } from './input-files.ts';
import { withTempDir } from './test-support/temp-dir.ts';

const fixtures = fileURLToPath(new URL('../../../test/fixtures/images/', import.meta.url));
const bin = fileURLToPath(new URL('../bin/gradcam.js', import.meta.url));

test('folders are walked through symbolic links to images and folders, each once, and a link loop ends', () => withTempDir('gradcam-links-', async (root) => {
  const input = join(root, 'in');
  await mkdir(input);
  await mkdir(join(root, 'elsewhere', 'more'), { recursive: true });
  await copyFile(join(fixtures, 'house-cat-locomotion.jpg'), join(input, 'real.jpg'));
  await copyFile(join(fixtures, 'sheep-pastoral.jpg'), join(root, 'elsewhere', 'sheep.jpg'));
  await copyFile(join(fixtures, 'people-group.jpg'), join(root, 'elsewhere', 'more', 'people.jpg'));
  await symlink(join(root, 'elsewhere', 'sheep.jpg'), join(input, 'linked.jpg'));
  await symlink(join(root, 'elsewhere', 'more'), join(input, 'linked-folder'));
  await symlink(input, join(input, 'loop'));
  await symlink(join(input, 'real.jpg'), join(input, 'same-as-real.jpg'));
  await symlink(join(root, 'nowhere.jpg'), join(input, 'dangling.jpg'));

  const listing = await listInputFiles([input, join(input, 'real.jpg')]);
  assert.deepEqual(listing.files, [join(input, 'linked-folder', 'people.jpg'), join(input, 'linked.jpg'), join(input, 'real.jpg')]);
  assert.deepEqual(listing.missing, [{ path: join(input, 'dangling.jpg'), code: 'NOT_FOUND', message: 'broken symbolic link', reason: 'broken symbolic link' }]);
}));

test('an excluded folder (explain --out) is skipped wherever the walk meets it, however it is reached', () => withTempDir('gradcam-exclude-', async (input) => {
  await copyFile(join(fixtures, 'house-cat-locomotion.jpg'), join(input, 'cat.jpg'));
  await mkdir(join(input, 'out', 'cat'), { recursive: true });
  await copyFile(join(fixtures, 'house-cat-locomotion.jpg'), join(input, 'out', 'cat', 'gradcam-0.overlay.jpg'));
  await symlink(join(input, 'out'), join(input, 'out-link'));
  const listing = await listInputFiles([input], { exclude: [join(input, 'out', '.')] });
  assert.deepEqual(listing.files, [join(input, 'cat.jpg')]);
  assert.deepEqual(listing.excluded, [], 'met in a walk, not named');
  const named = await listInputFiles([join(input, 'out')], { exclude: [join(input, 'out')] });
  assert.deepEqual(named.files, []);
  assert.deepEqual(named.excluded, [join(input, 'out')], 'named, and left out: the caller can say so');
}));

/**
 * Runs `listing` with readdir of `target` preceded by `change` (a real change on disk): a folder
 * that goes away or turns into a file between the walk seeing it and reading it, as when another
 * process removes it meanwhile. The error readdir then gives is the file system's own.
 */
async function withFolderChangedBeforeRead<T>(target: string, change: () => Promise<void>, listing: () => Promise<T>): Promise<T> {
  const original = fsp.readdir;
  (fsp as { readdir: unknown }).readdir = async (path: unknown, ...rest: unknown[]) => {
    if (String(path) === target) await change();
    return (original as (...args: unknown[]) => Promise<unknown>)(path, ...rest);
  };
  syncBuiltinESMExports();
  try {
    return await listing();
  } finally {
    (fsp as { readdir: unknown }).readdir = original;
    syncBuiltinESMExports();
  }
}

test('a folder that cannot be read is reported with its error code, and the rest is still listed', () => withTempDir('gradcam-unreadable-', async (input) => {
  await mkdir(join(input, 'a-gone'));
  await mkdir(join(input, 'b-now-a-file'));
  await copyFile(join(fixtures, 'house-cat-locomotion.jpg'), join(input, 'c.jpg'));
  const gone = join(input, 'a-gone');
  const nowFile = join(input, 'b-now-a-file');
  const listing = await withFolderChangedBeforeRead(gone, () => rm(gone, { recursive: true }), () =>
    withFolderChangedBeforeRead(nowFile, async () => {
      await rm(nowFile, { recursive: true });
      await writeFile(nowFile, 'no longer a folder');
    }, () => listInputFiles([input])),
  );
  assert.deepEqual(listing.files, [join(input, 'c.jpg')]);
  assert.deepEqual(listing.missing, [
    { path: gone, code: 'NOT_FOUND', message: 'no such folder (removed while being read?)', reason: 'no such folder (removed while being read?)' },
    { path: nowFile, code: 'ENOTDIR', message: 'not a directory', reason: 'ENOTDIR: not a directory' },
  ]);
}));

test('a folder without read permission is reported as EACCES (not run as root, which may read anything)', { skip: process.getuid?.() === 0 && 'runs as root' }, () => withTempDir('gradcam-locked-', async (input) => {
  await mkdir(join(input, 'locked'));
  await copyFile(join(fixtures, 'house-cat-locomotion.jpg'), join(input, 'open.jpg'));
  await chmod(join(input, 'locked'), 0o000);
  try {
    const listing = await listInputFiles([input]);
    assert.deepEqual(listing.files, [join(input, 'open.jpg')]);
    assert.deepEqual(listing.missing.map((m) => [m.path, m.reason]), [[join(input, 'locked'), 'EACCES: permission denied']]);
  } finally {
    await chmod(join(input, 'locked'), 0o755);
  }
}));

test("an earlier run's output met in a walk is skipped and named; a folder named, or an explanation.json that is no manifest, is walked", () => withTempDir('gradcam-earlier-', async (input) => {
  await copyFile(join(fixtures, 'house-cat-locomotion.jpg'), join(input, 'cat.jpg'));
  // A real earlier run: exp1/cat holds gradcam's manifest and overlay; an image was put beside them.
  const run = spawnSync(process.execPath, [bin, 'explain', join(input, 'cat.jpg'), '--out', join(input, 'exp1')], { encoding: 'utf8', timeout: 120_000 });
  assert.equal(run.status, 0, run.stderr);
  await copyFile(join(fixtures, 'sheep-pastoral.jpg'), join(input, 'exp1', 'cat', 'sheep.jpg'));
  // Someone's own notes called explanation.json, beside photos and a folder of photos.
  await mkdir(join(input, 'notes', 'more'), { recursive: true });
  await writeFile(join(input, 'notes', 'explanation.json'), '{"why": "the photos of the trip"}');
  await copyFile(join(fixtures, 'people-group.jpg'), join(input, 'notes', 'people.jpg'));
  await copyFile(join(fixtures, 'cartoon-open-peeps.jpg'), join(input, 'notes', 'more', 'cartoon.jpg'));
  await copyFile(join(fixtures, 'sheep-pastoral.jpg'), join(input, 'moved.GRADCAM-1.Overlay.JPG'));

  const listing = await listInputFiles([input]);
  assert.deepEqual(listing.files, [join(input, 'cat.jpg'), join(input, 'notes', 'more', 'cartoon.jpg'), join(input, 'notes', 'people.jpg')]);
  assert.deepEqual(listing.skipped, { outputFolders: [join(input, 'exp1', 'cat')], overlays: 1 });
  const named = await listInputFiles([join(input, 'exp1', 'cat')]);
  assert.deepEqual(named.files, [join(input, 'exp1', 'cat', 'sheep.jpg')], 'a folder named on the command line is walked, manifest or not');
  assert.deepEqual(named.skipped, { outputFolders: [], overlays: 1 }, 'its overlays are still output');
  const overlayName = (await readdir(join(input, 'exp1', 'cat'))).find((f) => f.endsWith('.overlay.jpg')) as string;
  const overlay = await listInputFiles([join(input, 'exp1', 'cat', overlayName)]);
  assert.deepEqual(overlay.files, [join(input, 'exp1', 'cat', overlayName)], 'a file named on the command line is taken as it is');
}));

test('.jpe and .jfif files are images; a name that is not UTF-8 is reported as such, not as a broken link', () => withTempDir('gradcam-names-', async (input) => {
  await copyFile(join(fixtures, 'house-cat-locomotion.jpg'), join(input, 'a.jfif'));
  await copyFile(join(fixtures, 'sheep-pastoral.jpg'), join(input, 'b.JPE'));
  await copyFile(join(fixtures, 'people-group.jpg'), Buffer.concat([Buffer.from(`${input}/c-`), Buffer.from([0xff, 0xfe]), Buffer.from('.jpg')]));
  const listing = await listInputFiles([input]);
  assert.deepEqual(listing.files, [join(input, 'a.jfif'), join(input, 'b.JPE')]);
  assert.deepEqual(listing.missing.map((m) => [m.path, m.code, m.reason]), [
    [join(input, 'c-\ufffd\ufffd.jpg'), 'NAME_NOT_UTF8', 'NAME_NOT_UTF8: its name is not valid UTF-8; rename it to explain it'],
  ]);
}));

test('an input replaced by a FIFO between its check and its read is refused NOT_A_FILE, never waited on for ever', { timeout: 180_000 }, () => withTempDir('gradcam-swapped-', async (dir) => {
  // A path checked with stat and then opened may be another file by the open: here a child swaps
  // it between an image and a FIFO as fast as it can. A FIFO opened for reading blocks until a
  // writer comes; none does but the test's rescue after 10 s, which fails the test.
  const image = join(dir, 'image.jpg');
  const fifo = join(dir, 'fifo.jpg');
  const swapped = join(dir, 'swapped.jpg');
  await copyFile(join(fixtures, 'house-cat-locomotion.jpg'), image);
  assert.equal(spawnSync('mkfifo', [fifo]).status, 0);
  const swapper = spawn(process.execPath, ['-e', `
    const { linkSync, renameSync } = require('node:fs');
    const [image, fifo, swapped] = process.argv.slice(1);
    for (;;) for (const from of [image, fifo]) { linkSync(from, swapped + '.next'); renameSync(swapped + '.next', swapped); }`, image, fifo, swapped], { stdio: 'ignore' });
  try {
    const expected = await fsp.readFile(image);
    const outcomes = { image: 0, notAFile: 0 };
    while (outcomes.image + outcomes.notAFile < 2_000) {
      let rescue: NodeJS.Timeout | undefined;
      const blocked = new Promise<'blocked'>((resolve) => {
        rescue = setTimeout(() => {
          // Unblocks the open waiting on the FIFO, so that the test can end.
          void fsp.open(fifo, 'w').then((writer) => writer.close());
          resolve('blocked');
        }, 10_000);
      });
      const read = readInputFile(swapped).then((bytes) => bytes, (error: unknown) => error);
      const outcome = await Promise.race([read, blocked]);
      clearTimeout(rescue);
      assert.notEqual(outcome, 'blocked', `a read waited on the FIFO after ${JSON.stringify(outcomes)}`);
      if (outcome instanceof Buffer) {
        assert.ok(outcome.equals(expected), 'the image read whole');
        outcomes.image++;
      } else if ((outcome as { code?: unknown }).code === 'NOT_A_FILE') outcomes.notAFile++;
      else if ((outcome as { code?: unknown }).code !== 'NOT_FOUND') throw outcome; // NOT_FOUND: before the first swap
    }
    assert.ok(outcomes.image > 0 && outcomes.notAFile > 0, `both met: ${JSON.stringify(outcomes)}`);
  } finally {
    swapper.kill('SIGKILL');
  }
}));

test('an input that grows past the size limit while it is read is refused IMAGE_TOO_LARGE, not read whole', () => withTempDir('gradcam-growing-', async (dir) => {
  const limit = 32 * 2 ** 20;
  const growing = join(dir, 'growing.jpg');
  await writeFile(growing, Buffer.alloc(1_000, 1));
  // Grown past the limit after the check read its size: the read stops one chunk past the limit.
  const handle = await fsp.open(growing, 'r+');
  const original = fsp.open;
  try {
    Object.assign(fsp, {
      open: async (...args: Parameters<typeof fsp.open>) => {
        const opened = await original(...args);
        const stat = opened.stat.bind(opened);
        return Object.assign(opened, { stat: async () => { const info = await stat(); await handle.truncate(limit + 100); return info; } });
      },
    });
    syncBuiltinESMExports();
    await assert.rejects(readInputFile(growing), (error: Error & { code?: string }) => error.code === 'IMAGE_TOO_LARGE' && /grew while being read/.test(error.message));
  } finally {
    Object.assign(fsp, { open: original });
    syncBuiltinESMExports();
    await handle.close();
  }
}));
