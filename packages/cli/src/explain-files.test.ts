import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readFile, readdir, symlink, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { explanationManifestSchema } from '@gradcam/contracts';
import { outputStems } from './explain-files.ts';

const bin = fileURLToPath(new URL('../bin/gradcam.js', import.meta.url));
const fixtures = fileURLToPath(new URL('../../../test/fixtures/images/', import.meta.url));
const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

function gradcam(args: readonly string[], nodeOptions: readonly string[] = [], timeout = 120_000) {
  const result = spawnSync(process.execPath, [...nodeOptions, bin, ...args], { encoding: 'utf8', timeout });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** Every folder under `out` with a manifest: the manifest lists exactly the other files, with their hashes. */
async function assertCompleteFolders(out: string): Promise<Map<string, string>> {
  const sources = new Map<string, string>();
  for (const name of await readdir(out)) {
    const dir = join(out, name);
    const files = (await readdir(dir)).sort();
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

  test('same-named images in different folders and a file named like a generated name each get their own folder', async () => {
    const root = await mkdtemp(join(tmpdir(), 'gradcam-names-'));
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
  });

  test('images named "...jpg" and "..jpg" are written inside --out, never above it or into it', async () => {
    const root = await mkdtemp(join(tmpdir(), 'gradcam-dots-'));
    await mkdir(join(root, 'in'));
    await copyFile(join(fixtures, 'house-cat-locomotion.jpg'), join(root, 'in', '...jpg'));
    await copyFile(join(fixtures, 'sheep-pastoral.jpg'), join(root, 'in', '..jpg'));
    const out = join(root, 'out');
    const run = gradcam(['explain', join(root, 'in'), '--out', out]);
    assert.equal(run.status, 0, run.stderr);
    assert.deepEqual((await readdir(root)).sort(), ['in', 'out']);
    assert.deepEqual((await readdir(out)).sort(), ['image', 'image-2']);
    assert.equal((await assertCompleteFolders(out)).size, 2);
  });

  test('a rerun into the same folder leaves only its own files; a run killed before its manifest leaves none', async () => {
    const root = await mkdtemp(join(tmpdir(), 'gradcam-rerun-'));
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
    // of a run with another opacity: the old manifest must not vouch for the new overlays.
    const hook = join(root, 'die-at-manifest.mjs');
    await writeFile(
      hook,
      `import fsp from 'node:fs/promises';
import { syncBuiltinESMExports } from 'node:module';
const original = fsp.writeFile;
fsp.writeFile = async (path, ...rest) => { if (String(path).includes('explanation.json')) process.kill(process.pid, 'SIGKILL'); return original(path, ...rest); };
syncBuiltinESMExports();
`,
    );
    const killed = gradcam(['explain', image, '--method', 'gradcam++', '--alpha', '0.9', '--out', out], ['--import', hook]);
    assert.equal(killed.status, null, killed.stderr);
    await assertCompleteFolders(out);
    const third = gradcam(['explain', image, '--out', out]);
    assert.equal(third.status, 0, third.stderr);
    assert.deepEqual(await assertCompleteFolders(out), new Map([['cat', image]]));
  });

  test('a full disk (ENOSPC) stops the run with exit 1 and leaves no partial file of the image it failed on', { skip: !existsSync('/dev/full') && 'no /dev/full' }, async () => {
    const root = await mkdtemp(join(tmpdir(), 'gradcam-full-'));
    await mkdir(join(root, 'in'));
    await copyFile(join(fixtures, 'house-cat-locomotion.jpg'), join(root, 'in', 'a.jpg'));
    await copyFile(join(fixtures, 'sheep-pastoral.jpg'), join(root, 'in', 'b.jpg'));
    await copyFile(join(fixtures, 'people-group.jpg'), join(root, 'in', 'c.jpg'));
    // b's overlay lands on /dev/full, where every write fails with a real ENOSPC, after its .npy was written whole.
    const out = join(root, 'out');
    await mkdir(join(out, 'b'), { recursive: true });
    await symlink('/dev/full', join(out, 'b', 'gradcam-0.overlay.jpg'));
    const run = gradcam(['explain', join(root, 'in'), '--class', '0', '--batch', '1', '--out', out, '--json']);
    assert.equal(run.status, 1, run.stderr);
    const summary = JSON.parse(run.stdout) as { explained: number; failed: number; stopped: unknown };
    assert.deepEqual([summary.explained, summary.failed], [1, 1], run.stdout);
    assert.deepEqual(summary.stopped, { code: 'ENOSPC', message: 'no space left on device, write', notWritten: 1 });
    assert.match(run.stderr, /b\.jpg: ENOSPC: no space left on device/);
    assert.match(run.stderr, /stopped: the output folder takes no more \(ENOSPC: .*\); 1 image\(s\) not written/);
    assert.deepEqual(await readdir(join(out, 'b')), [], 'neither the whole .npy nor the link that took the overlay is left');
    assert.deepEqual((await readdir(out)).sort(), ['a', 'b'], 'c was not written after the stop');
    assert.deepEqual([...(await assertCompleteFolders(out)).keys()], ['a']);
  });

  test('a FIFO is refused without being opened, and an oversize file without being read', async () => {
    const root = await mkdtemp(join(tmpdir(), 'gradcam-special-'));
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
  });
});
