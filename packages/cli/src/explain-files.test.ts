import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFile, mkdir, readFile, readdir, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { explanationManifestSchema } from '@gradcam/contracts';
import { folderLockName, outputStems } from './explain-files.ts';
import { withTempDir } from './test-support/temp-dir.ts';

const bin = fileURLToPath(new URL('../bin/gradcam.js', import.meta.url));
const fixtures = fileURLToPath(new URL('../../../test/fixtures/images/', import.meta.url));
const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

function gradcam(args: readonly string[], nodeOptions: readonly string[] = [], timeout = 120_000, prefix: readonly string[] = []) {
  const [command = process.execPath, ...rest] = [...prefix, process.execPath];
  const result = spawnSync(command, [...rest, ...nodeOptions, bin, ...args], { encoding: 'utf8', timeout });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** Every file under `dir` (hidden ones too) with its sha256: two equal snapshots are the same bytes under the same names. */
async function snapshot(dir: string): Promise<Record<string, string>> {
  const files: Record<string, string> = {};
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    const path = join(entry.parentPath, entry.name);
    files[relative(dir, path)] = entry.isFile() ? sha256(await readFile(path)) : entry.isDirectory() ? 'folder' : 'other';
  }
  return files;
}

/** A user and mount namespace may mount a tmpfs: a real file system whose size and inode count a test sets. */
const tmpfsMountable = spawnSync('unshare', ['-Urm', 'sh', '-c', 'mount -t tmpfs tmpfs "$1"', 'sh', tmpdir()]).status === 0;
const hasPrlimit = spawnSync('prlimit', ['--version']).status === 0;

/** Every folder under `out` with a manifest: the manifest lists exactly the other files, with their hashes. */
async function assertCompleteFolders(out: string, { temporaries = false } = {}): Promise<Map<string, string>> {
  const sources = new Map<string, string>();
  for (const name of await readdir(out)) {
    const dir = join(out, name);
    // Temporaries (hidden) and the lock of a killed run are not part of the folder's result.
    const files = (await readdir(dir)).filter((f) => !(temporaries && (/^\..*\.tmp$/.test(f) || f === folderLockName))).sort();
    if (!files.includes('explanation.json')) continue;
    const manifest = explanationManifestSchema.parse(JSON.parse(await readFile(join(dir, 'explanation.json'), 'utf8')));
    const listed = manifest.explanations.flatMap((e) => [e.rawMap, e.overlay]);
    assert.deepEqual(files, [...listed.map((a) => a.path), 'explanation.json'].sort(), `${name}: files the manifest does not list`);
    for (const artifact of listed) assert.equal(sha256(await readFile(join(dir, artifact.path))), artifact.sha256, `${name}/${artifact.path}`);
    assert.equal(sha256(await readFile(manifest.input.source)), manifest.input.sha256, `${name} holds ${manifest.input.source}`);
    sources.set(name, manifest.input.source);
  }
  return sources;
}

describe('output folders', () => {
  test('names are unique against every name taken, ignoring case, and the same list gives the same names', () => {
    const files = ['in/a/cat.jpg', 'in/b/cat.jpg', 'in/cat-2.jpg', 'in/c/CAT.png', 'in/cat-3.webp'];
    const stems = outputStems(files);
    assert.deepEqual(files.map((f) => stems.get(f)), ['cat', 'cat-4', 'cat-2', 'CAT-5', 'cat-3']);
    assert.deepEqual(outputStems(files), stems);
    const odd = ['x/...jpg', 'x/..jpg', 'x/.jpg', 'x/.hidden.png', 'x/a b.jpg'];
    const oddStems = outputStems(odd);
    assert.deepEqual(odd.map((f) => oddStems.get(f)), ['image', 'image-2', '_jpg', '_hidden', 'a_b']);
  });

  test('same-named images in different folders and a file named like a generated name each get their own folder', () => withTempDir('gradcam-names-', async (root) => {
    await mkdir(join(root, 'in', 'a'), { recursive: true });
    await mkdir(join(root, 'in', 'b'), { recursive: true });
    await copyFile(join(fixtures, 'house-cat-locomotion.jpg'), join(root, 'in', 'a', 'cat.jpg'));
    await copyFile(join(fixtures, 'sheep-pastoral.jpg'), join(root, 'in', 'b', 'cat.jpg'));
    await copyFile(join(fixtures, 'cartoon-open-peeps.jpg'), join(root, 'in', 'cat-2.jpg'));
    await copyFile(join(fixtures, 'people-group.jpg'), join(root, 'in', 'Cat.jpg'));
    const out = join(root, 'out');
    const run = gradcam(['explain', join(root, 'in'), '--out', out]);
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /4 explained, 0 failed/);
    const sources = await assertCompleteFolders(out);
    assert.equal(sources.size, 4, [...sources.keys()].join(' '));
    assert.equal(new Set(sources.values()).size, 4);
  }));

  test('images named "...jpg" and "..jpg" are written inside --out, never above it or into it', () => withTempDir('gradcam-dots-', async (root) => {
    await mkdir(join(root, 'in'));
    await copyFile(join(fixtures, 'house-cat-locomotion.jpg'), join(root, 'in', '...jpg'));
    await copyFile(join(fixtures, 'sheep-pastoral.jpg'), join(root, 'in', '..jpg'));
    const out = join(root, 'out');
    const run = gradcam(['explain', join(root, 'in'), '--out', out]);
    assert.equal(run.status, 0, run.stderr);
    assert.deepEqual((await readdir(root)).sort(), ['in', 'out']);
    assert.deepEqual((await readdir(out)).sort(), ['image', 'image-2']);
    assert.equal((await assertCompleteFolders(out)).size, 2);
  }));

  test('a rerun into the same folder leaves only its own files; a run killed before its manifest leaves none', () => withTempDir('gradcam-rerun-', async (root) => {
    const image = join(root, 'cat.jpg');
    await copyFile(join(fixtures, 'house-cat-locomotion.jpg'), image);
    const out = join(root, 'out');
    const first = gradcam(['explain', image, '--top-k', '2', '--out', out]);
    assert.equal(first.status, 0, first.stderr);
    const second = gradcam(['explain', image, '--method', 'gradcam++', '--out', out]);
    assert.equal(second.status, 0, second.stderr);
    assert.deepEqual((await readdir(join(out, 'cat'))).filter((f) => f.startsWith('gradcam-')), []);
    await assertCompleteFolders(out);

    // Dies (as on SIGKILL or power loss) as the manifest is being written, after every other file
    // of a run with another opacity: the old result must stand as it was, its manifest vouching
    // for its own overlays only, and the next run must clear what the killed one left. (The folder's
    // lock, .explanation.json.lock, is opened first and spared.)
    const before = await snapshot(join(out, 'cat'));
    const hook = join(root, 'die-at-manifest.mjs');
    await writeFile(
      hook,
      `import fsp from 'node:fs/promises';
import { syncBuiltinESMExports } from 'node:module';
const original = fsp.open;
fsp.open = async (path, ...rest) => { if (String(path).includes('explanation.json') && !String(path).endsWith('.lock')) process.kill(process.pid, 'SIGKILL'); return original(path, ...rest); };
syncBuiltinESMExports();
`,
    );
    const killed = gradcam(['explain', image, '--method', 'gradcam++', '--alpha', '0.9', '--out', out], ['--import', hook]);
    assert.equal(killed.status, null, killed.stderr);
    await assertCompleteFolders(out, { temporaries: true });
    const left = Object.keys(await snapshot(join(out, 'cat'))).filter((f) => !(f in before) && f !== folderLockName);
    assert.ok(folderLockName in (await snapshot(join(out, 'cat'))), 'and its lock, which the next run takes over');
    assert.equal(left.length, 2, `the killed run left its .npy and overlay temporaries: ${left.join(' ')}`);
    assert.ok(left.every((f) => /^\.gradcampp-\d+\.(npy|overlay\.jpg)\.[0-9a-f]+\.tmp$/.test(f)), left.join(' '));
    const third = gradcam(['explain', image, '--out', out]);
    assert.equal(third.status, 0, third.stderr);
    assert.deepEqual(await assertCompleteFolders(out), new Map([['cat', image]]));
  }));

  test('a rerun whose write fails part-way (a real EFBIG under a file size limit) leaves the earlier result byte for byte, and nothing of its own', { skip: !hasPrlimit && 'no prlimit' }, () => withTempDir('gradcam-rerun-fails-', async (root) => {
    const image = join(root, 'cat.jpg');
    await copyFile(join(fixtures, 'house-cat-locomotion.jpg'), image);
    const out = join(root, 'out');
    const first = gradcam(['explain', image, '--top-k', '2', '--out', out]);
    assert.equal(first.status, 0, first.stderr);
    const before = await snapshot(out);
    // 16 KiB a file: the .npy (324 bytes) and the manifest fit, the overlay (over 40 KB) does not.
    const failed = gradcam(['explain', image, '--top-k', '2', '--alpha', '0.9', '--out', out], [], 120_000, ['prlimit', '--fsize=16384']);
    assert.equal(failed.status, 1, failed.stderr);
    assert.match(failed.stderr, /cat\.jpg: EFBIG: file too large/);
    assert.deepEqual(await snapshot(out), before, 'the same files with the same bytes: no manifest removed, no file truncated, no temporary left');
    assert.equal((await assertCompleteFolders(out)).size, 1);
  }));

  test('a full disk (ENOSPC) stops the run with exit 1; the image it failed on keeps its earlier result and gets no partial file', { skip: !tmpfsMountable && 'cannot mount a tmpfs in a user namespace' }, () => withTempDir('gradcam-full-', async (root) => {
    await mkdir(join(root, 'in'));
    await copyFile(join(fixtures, 'house-cat-locomotion.jpg'), join(root, 'in', 'a.jpg'));
    await copyFile(join(fixtures, 'sheep-pastoral.jpg'), join(root, 'in', 'b.jpg'));
    await copyFile(join(fixtures, 'people-group.jpg'), join(root, 'in', 'c.jpg'));
    const out = join(root, 'out');
    await mkdir(out);
    // A tmpfs of 12 inodes, a real file system that runs out (ENOSPC) at a known file: its root
    // and b's earlier result (folder, .npy, overlay, manifest) take 5; a's folder with two
    // classes takes 6; b's rerun with two classes finds 1 left for its 5 new files. The old
    // writer (manifest removed, files truncated in place) ran out after destroying b's result.
    const script = `set -e
mount -t tmpfs -o size=64m,nr_inodes=12 tmpfs "$1/out"
"$2" "$3" explain "$1/in/b.jpg" --out "$1/out" >/dev/null
cp -a "$1/out" "$1/before"
set +e
"$2" "$3" explain "$1/in" --top-k 2 --batch 1 --out "$1/out" --json >"$1/run.json" 2>"$1/run.err"
echo $? >"$1/status"
cp -a "$1/out" "$1/after"`;
    const outer = spawnSync('unshare', ['-Urm', 'sh', '-c', script, 'sh', root, process.execPath, bin], { encoding: 'utf8', timeout: 180_000 });
    assert.equal(outer.status, 0, outer.stderr);
    const [status, stdout, stderr] = await Promise.all(['status', 'run.json', 'run.err'].map((f) => readFile(join(root, f), 'utf8')));
    assert.equal(status?.trim(), '1', stderr);
    assert.deepEqual(await snapshot(join(root, 'after', 'b')), await snapshot(join(root, 'before', 'b')), "b's earlier result, byte for byte, and no temporary");
    const summary = JSON.parse(stdout as string) as { explained: number; failed: number; stopped: unknown };
    assert.deepEqual([summary.explained, summary.failed], [1, 1], stdout);
    assert.deepEqual(summary.stopped, { code: 'ENOSPC', message: 'no space left on device, open', notWritten: 1 });
    assert.match(stderr as string, /b\.jpg: ENOSPC: no space left on device/);
    assert.match(stderr as string, /stopped: the output folder takes no more \(ENOSPC: .*\); 1 image\(s\) not written/);
    assert.deepEqual((await readdir(join(root, 'after'))).sort(), ['a', 'b'], 'c was not written after the stop');
    assert.deepEqual([...(await assertCompleteFolders(join(root, 'after'))).keys()].sort(), ['a', 'b']);
  }));

  test('two runs writing the same --out at once both succeed, and every folder is one whole run\'s', () => withTempDir('gradcam-together-', async (root) => {
    await mkdir(join(root, 'in'));
    for (let i = 0; i < 12; i++) await copyFile(join(fixtures, 'house-cat-locomotion.jpg'), join(root, 'in', `c${i}.jpg`));
    const out = join(root, 'out');
    // Renames a little slower, so that the two runs' writes of one folder overlap as they do on a busy disk.
    const hook = join(root, 'slow-rename.mjs');
    await writeFile(
      hook,
      `import fsp from 'node:fs/promises';
import { syncBuiltinESMExports } from 'node:module';
const original = fsp.rename;
fsp.rename = async (...args) => { await new Promise((resolve) => setTimeout(resolve, 15)); return original(...args); };
syncBuiltinESMExports();
`,
    );
    // Other methods and classes in each: a run that cleared the other's files would leave a manifest vouching for missing ones.
    const runs = [['--method', 'gradcam', '--top-k', '2'], ['--method', 'gradcam++,layercam']].map(
      (args) =>
        new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
          const child = spawn(process.execPath, ['--import', hook, bin, 'explain', join(root, 'in'), ...args, '--batch', '4', '--out', out]);
          let stdout = '';
          let stderr = '';
          child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
          child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
          child.on('close', (status) => resolve({ status, stdout, stderr }));
        }),
    );
    for (const run of await Promise.all(runs)) {
      assert.equal(run.status, 0, run.stderr);
      assert.match(run.stdout, /^12 explained, 0 failed/, run.stderr);
    }
    const sources = await assertCompleteFolders(out);
    assert.equal(sources.size, 12, 'every folder has a manifest');
    for (const name of await readdir(out)) assert.deepEqual((await readdir(join(out, name))).filter((f) => f.startsWith('.')), [], `${name}: no temporary or lock left`);
  }));

  test('an image removed after it was listed is NOT_FOUND, as a missing path is, not a raw ENOENT', () => withTempDir('gradcam-vanish-', async (root) => {
    await mkdir(join(root, 'in'));
    await copyFile(join(fixtures, 'house-cat-locomotion.jpg'), join(root, 'in', 'stays.jpg'));
    await copyFile(join(fixtures, 'house-cat-locomotion.jpg'), join(root, 'in', 'vanishes.jpg'));
    // The listing stats each image; the read opens it next: the file is removed just before.
    const hook = join(root, 'remove-before-read.mjs');
    await writeFile(
      hook,
      `import { unlinkSync } from 'node:fs';
import fsp from 'node:fs/promises';
import { syncBuiltinESMExports } from 'node:module';
const original = fsp.open;
fsp.open = (path, ...rest) => {
  if (String(path).endsWith('vanishes.jpg')) unlinkSync(path);
  return original(path, ...rest);
};
syncBuiltinESMExports();
`,
    );
    const run = gradcam(['explain', join(root, 'in'), '--out', join(root, 'out'), '--json'], ['--import', hook]);
    assert.equal(run.status, 0, run.stderr);
    const summary = JSON.parse(run.stdout) as { explained: number; failures: unknown[] };
    assert.equal(summary.explained, 1);
    assert.deepEqual(summary.failures, [{ file: join(root, 'in', 'vanishes.jpg'), code: 'NOT_FOUND', message: 'no such file (removed since it was listed?)' }]);
  }));

  test('a FIFO is refused without waiting on it, and an oversize file without being read', () => withTempDir('gradcam-special-', async (root) => {
    const fifo = join(root, 'pipe.jpg');
    assert.equal(spawnSync('mkfifo', [fifo]).status, 0);
    const huge = join(root, 'huge.jpg');
    await writeFile(huge, '');
    await truncate(huge, 3 * 2 ** 30); // sparse: 3 GiB that occupy no disk
    const run = gradcam(['explain', fifo, huge, join(fixtures, 'house-cat-locomotion.jpg'), '--out', join(root, 'out')], [], 60_000);
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /1 explained, 2 failed/);
    assert.match(run.stderr, /pipe\.jpg: NOT_A_FILE: not a regular file/);
    assert.match(run.stderr, /huge\.jpg: IMAGE_TOO_LARGE: image is 3221225472 bytes/);
  }));
});
