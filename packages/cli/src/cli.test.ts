import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, readFile, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { existsSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { fingerprint } from '@gradcam/artifacts';
import { explanationManifestSchema } from '@gradcam/contracts';
import { builtinModels, defaultModelName, modelWeightsSha256 } from '@gradcam/engine';
import { decodeNpy } from '@gradcam/imaging';
import sharp from 'sharp';
import { withTempDir } from './test-support/temp-dir.ts';

const bin = fileURLToPath(new URL('../bin/gradcam.js', import.meta.url));
const fixtures = fileURLToPath(new URL('../../../test/fixtures/images/', import.meta.url));

function gradcam(...args: string[]) {
  const result = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 120_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

describe('gradcam explain', () => {
  let inputDir: string;
  let outDir: string;
  let run: ReturnType<typeof gradcam>;

  before(async () => {
    inputDir = await mkdtemp(join(tmpdir(), 'gradcam-in-'));
    outDir = await mkdtemp(join(tmpdir(), 'gradcam-out-'));
    await copyFile(join(fixtures, 'house-cat-locomotion.jpg'), join(inputDir, 'cat.jpg'));
    await copyFile(join(fixtures, 'cartoon-open-peeps.jpg'), join(inputDir, 'cartoon.jpg'));
    const jpeg = await readFile(join(fixtures, 'sheep-pastoral.jpg'));
    await writeFile(join(inputDir, 'truncated.jpg'), jpeg.subarray(0, Math.floor(jpeg.length / 3)));
    await writeFile(join(inputDir, 'empty.png'), '');
    await writeFile(join(inputDir, 'notes.webp'), 'this is not an image');
    run = gradcam('explain', inputDir, join(inputDir, 'missing.jpg'), '--method', 'gradcam,gradcam++', '--top-k', '2', '--out', outDir);
  });

  // The run's folders outlive one test (all three read them), so they are removed here, not by withTempDir.
  after(async () => {
    await rm(inputDir, { recursive: true, force: true });
    await rm(outDir, { recursive: true, force: true });
  });

  test('explains the good images and exits 0', () => {
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /2 explained, 4 failed/);
  });

  test('each bad input gets one line naming the file and the reason', () => {
    const lines = run.stderr.split('\n').filter((l) => l.startsWith('✗'));
    assert.equal(lines.length, 4, run.stderr);
    assert.ok(lines.some((l) => l.includes('truncated.jpg') && l.includes('IMAGE_CORRUPT')), run.stderr);
    assert.ok(lines.some((l) => l.includes('empty.png') && l.includes('IMAGE_EMPTY')), run.stderr);
    assert.ok(lines.some((l) => l.includes('notes.webp') && l.includes('IMAGE_UNSUPPORTED_FORMAT')), run.stderr);
    assert.ok(lines.some((l) => l.includes('missing.jpg') && l.includes('no such file')), run.stderr);
  });

  test('writes maps, overlays and a valid manifest whose hashes match the files and that pins the model weights', async () => {
    for (const stem of ['cat', 'cartoon']) {
      const dir = join(outDir, stem);
      const names = (await readdir(dir)).sort();
      assert.equal(names.length, 2 * 2 * 2 + 1, names.join(' '));
      const manifest = explanationManifestSchema.parse(JSON.parse(await readFile(join(dir, 'explanation.json'), 'utf8')));
      assert.equal(manifest.model.targetLayer, 'out_relu');
      // The built-in's version is a label; the weights it ran with are pinned by their hash.
      const builtin = builtinModels.find((m) => m.descriptor.name === defaultModelName);
      assert.equal(manifest.model.weightsSha256, builtin && modelWeightsSha256(builtin.read()));
      assert.equal(manifest.explanations.length, 4);
      for (const entry of manifest.explanations) {
        for (const artifact of [entry.rawMap, entry.overlay]) {
          const body = await readFile(join(dir, artifact.path));
          assert.equal(sha256(body), artifact.sha256, artifact.path);
          assert.equal(body.byteLength, artifact.bytes);
        }
        const npy = decodeNpy(await readFile(join(dir, entry.rawMap.path)));
        assert.deepEqual(npy.shape, [7, 7]);
        assert.equal(Math.max(...npy.data), entry.map.max);
      }
      const ranked = manifest.prediction.logits.map((v, i) => [v, i] as const).sort((a, b) => b[0] - a[0]).slice(0, 2).map(([, i]) => i);
      assert.deepEqual([...new Set(manifest.explanations.map((e) => e.classIndex))], ranked);
    }
  });
});

test('an image over the overlay limit gets a scaled-down overlay, its size in the manifest', () => withTempDir('gradcam-big-', async (dir) => {
  const { data, info } = await sharp(join(fixtures, 'house-cat-locomotion.jpg')).resize(1200, 800, { fit: 'fill' }).raw().toBuffer({ resolveWithObject: true });
  await writeFile(join(dir, 'big.png'), await sharp(data, { raw: { width: info.width, height: info.height, channels: 3 } }).png().toBuffer());
  const run = gradcam('explain', join(dir, 'big.png'), '--overlay-max-side', '300', '--out', join(dir, 'out'));
  assert.equal(run.status, 0, run.stderr);
  const manifest = explanationManifestSchema.parse(JSON.parse(await readFile(join(dir, 'out', 'big', 'explanation.json'), 'utf8')));
  assert.deepEqual([manifest.input.width, manifest.input.height], [1200, 800]);
  const [entry] = manifest.explanations;
  assert.ok(entry);
  assert.deepEqual([entry.overlay.width, entry.overlay.height], [300, 200]);
  const overlay = await sharp(join(dir, 'out', 'big', entry.overlay.path)).metadata();
  assert.deepEqual([overlay.width, overlay.height], [300, 200]);
  const full = gradcam('explain', join(dir, 'big.png'), '--overlay-max-side', '0', '--out', join(dir, 'full'));
  assert.equal(full.status, 0, full.stderr);
  const unlimited = explanationManifestSchema.parse(JSON.parse(await readFile(join(dir, 'full', 'big', 'explanation.json'), 'utf8')));
  assert.deepEqual([unlimited.explanations[0]?.overlay.width, unlimited.explanations[0]?.overlay.height], [1200, 800]);
}));

test('a TIFF gets input.preview.jpg, listed in its manifest; a rerun from a JPEG of the same name removes it; a walk skips it as output', () => withTempDir('gradcam-preview-', async (dir) => {
  const photo = await sharp(join(fixtures, 'sheep-pastoral.jpg')).resize(320).toBuffer();
  await writeFile(join(dir, 'scan.tiff'), await sharp(photo).tiff().toBuffer());
  const run = gradcam('explain', join(dir, 'scan.tiff'), '--out', join(dir, 'out'));
  assert.equal(run.status, 0, run.stderr);
  const folder = join(dir, 'out', 'scan');
  const manifest = explanationManifestSchema.parse(JSON.parse(await readFile(join(folder, 'explanation.json'), 'utf8')));
  assert.equal(manifest.input.preview?.path, 'input.preview.jpg');
  assert.equal(manifest.input.preview.reason, 'format');
  assert.equal(sha256(await readFile(join(folder, 'input.preview.jpg'))), manifest.input.preview.sha256);
  // The folder named on the command line is walked, and its preview is output, not input.
  const walked = gradcam('explain', folder, '--json', '--out', join(dir, 'again'));
  assert.equal(walked.status, 1, walked.stdout);
  // Its overlay and its preview: nothing there to explain.
  assert.match(walked.stderr, /2 \*\.overlay\.jpg or input\.preview\.jpg file\(s\)/);

  await rm(join(dir, 'scan.tiff'));
  await writeFile(join(dir, 'scan.jpg'), photo);
  const rerun = gradcam('explain', join(dir, 'scan.jpg'), '--out', join(dir, 'out'));
  assert.equal(rerun.status, 0, rerun.stderr);
  const names = await readdir(folder);
  assert.ok(!names.includes('input.preview.jpg'), `the JPEG's folder keeps no preview of the TIFF: ${names.join(' ')}`);
  assert.equal(explanationManifestSchema.parse(JSON.parse(await readFile(join(folder, 'explanation.json'), 'utf8'))).input.preview, undefined);
}));

test('explain --backend wasm records the wasm build it ran on (the SIMD one, one thread) in the manifest, outside the fingerprint', () => withTempDir('gradcam-wasm-', async (dir) => {
  const run = gradcam('explain', join(fixtures, 'sheep-pastoral.jpg'), '--backend', 'wasm', '--out', join(dir, 'out'));
  assert.equal(run.status, 0, run.stderr);
  const manifest = explanationManifestSchema.parse(JSON.parse(await readFile(join(dir, 'out', 'sheep-pastoral', 'explanation.json'), 'utf8')));
  assert.equal(manifest.engine.backend, 'wasm');
  assert.deepEqual(manifest.engine.backendDetails, { simd: true, threads: 1, wasmBinary: 'tfjs-backend-wasm-simd.wasm' });
  const { backendDetails: _recorded, ...engine } = manifest.engine;
  assert.equal(fingerprint({ ...manifest, engine }), manifest.fingerprint, 'the fingerprint does not cover the backend details');
}));

test('explain --method scorecam says how many masked copies it runs, and writes a Score-CAM explanation', () => withTempDir('gradcam-scorecam-', async (dir) => {
  const run = gradcam('explain', join(fixtures, 'house-cat-locomotion.jpg'), '--method', 'scorecam', '--score-cam-channels', '3', '--out', join(dir, 'out'));
  assert.equal(run.status, 0, run.stderr);
  assert.match(run.stderr, /Score-CAM runs the model on 3 masked copies of each image/);
  const manifest = explanationManifestSchema.parse(JSON.parse(await readFile(join(dir, 'out', 'house-cat-locomotion', 'explanation.json'), 'utf8')));
  assert.deepEqual([...new Set(manifest.explanations.map((e) => e.method))], ['scorecam']);
  const quiet = gradcam('explain', join(fixtures, 'house-cat-locomotion.jpg'), '--method', 'gradcam', '--out', join(dir, 'plain'));
  assert.equal(quiet.status, 0, quiet.stderr);
  assert.doesNotMatch(quiet.stderr, /Score-CAM/, 'the hint is only for Score-CAM');
}));

test('explain with --out inside an input folder does not explain its own earlier output', () => withTempDir('gradcam-outside-', async (dir) => {
  await copyFile(join(fixtures, 'house-cat-locomotion.jpg'), join(dir, 'cat.jpg'));
  const first = gradcam('explain', dir, '--out', join(dir, 'out'));
  assert.equal(first.status, 0, first.stderr);
  assert.match(first.stdout, /^1 explained, 0 failed/m);
  const again = gradcam('explain', dir, '--out', join(dir, 'out'));
  assert.equal(again.status, 0, again.stderr);
  assert.match(again.stdout, /^1 explained, 0 failed/m, 'the overlays under out/ were not taken for inputs');
  assert.deepEqual(await readdir(join(dir, 'out')), ['cat']);
}));

test("a second run's --out inside the input folder skips the first run's output; a listing failure keeps its errno in --json", () => withTempDir('gradcam-earlier-', async (dir) => {
  await copyFile(join(fixtures, 'house-cat-locomotion.jpg'), join(dir, 'cat.jpg'));
  const first = gradcam('explain', dir, '--out', join(dir, 'exp1'));
  assert.equal(first.status, 0, first.stderr);
  const second = gradcam('explain', dir, join(dir, 'cat.jpg', 'not-under-a-file.jpg'), '--out', join(dir, 'exp2'), '--json');
  assert.equal(second.status, 0, second.stderr);
  const summary = JSON.parse(second.stdout) as { explained: number; failures: { file: string; code: string; message: string }[]; skipped: unknown };
  assert.equal(summary.explained, 1, second.stdout);
  assert.deepEqual(summary.failures, [{ file: join(dir, 'cat.jpg', 'not-under-a-file.jpg'), code: 'ENOTDIR', message: 'not a directory' }]);
  assert.deepEqual(summary.skipped, { outputFolders: [join(dir, 'exp1', 'cat')], overlays: 0 }, 'the folders skipped, named in --json');
  assert.ok(second.stderr.includes(`skipped earlier output: 1 folder(s) holding a gradcam explanation.json (${join(dir, 'exp1', 'cat')}), 0 *.overlay.jpg`), second.stderr);
  assert.deepEqual(await readdir(join(dir, 'exp2')), ['cat']);
}));

describe('gradcam errors', () => {
  test('nothing explained: exit 1', () => withTempDir('gradcam-bad-', async (dir) => {
    await writeFile(join(dir, 'a.jpg'), 'nope');
    const run = gradcam('explain', dir, '--out', join(dir, 'out'));
    assert.equal(run.status, 1);
    assert.match(run.stderr, /a\.jpg: IMAGE_UNSUPPORTED_FORMAT/);
  }));

  test('the output folder named as the only input: says it was skipped as the output folder, exit 1', () => withTempDir('gradcam-same-', async (dir) => {
    await copyFile(join(fixtures, 'house-cat-locomotion.jpg'), join(dir, 'cat.jpg'));
    const run = gradcam('explain', dir, '--out', dir);
    assert.equal(run.status, 1, run.stderr);
    assert.deepEqual(run.stderr.trim().split('\n'), [
      `✗ ${dir}: skipped: it is the output folder (--out ${dir}); give another --out, or name its images one by one`,
      'gradcam explain: no images found in the given paths (the output folder is never read as input)',
    ]);
  }));

  test('a file system error on one file names its code once', () => withTempDir('gradcam-enotdir-', async (dir) => {
    await mkdir(join(dir, 'out'));
    await writeFile(join(dir, 'out', 'house-cat-locomotion'), 'a file where the image folder should be');
    const run = gradcam('explain', join(fixtures, 'house-cat-locomotion.jpg'), '--out', join(dir, 'out'));
    assert.equal(run.status, 1, run.stderr);
    assert.match(run.stderr, /house-cat-locomotion\.jpg: ENOTDIR: not a directory/);
    assert.doesNotMatch(run.stderr, /ENOTDIR: ENOTDIR/);
  }));

  test('--json with no image found still prints the summary, with the failures', () => withTempDir('gradcam-none-', async (dir) => {
    const run = gradcam('explain', join(dir, 'missing.jpg'), '--json', '--out', join(dir, 'out'));
    assert.equal(run.status, 1, run.stderr);
    const summary = JSON.parse(run.stdout) as { explained: number; failed: number; failures: unknown[]; error: unknown };
    assert.deepEqual([summary.explained, summary.failed], [0, 1]);
    assert.deepEqual(summary.failures, [{ file: join(dir, 'missing.jpg'), code: 'NOT_FOUND', message: 'no such file or folder' }]);
    assert.deepEqual(summary.error, { code: 'NO_IMAGES', message: 'no images found in the given paths' });
    // Like every other message of explain, the line starts with "gradcam explain:".
    assert.deepEqual(run.stderr.trim().split('\n'), [`✗ ${join(dir, 'missing.jpg')}: no such file or folder`, 'gradcam explain: no images found in the given paths']);
  }));

  test('--json: an error that stops the run is still one JSON line on stdout, with a stable code; stderr and the exit status as without --json', () => withTempDir('gradcam-fatal-', async (dir) => {
    const image = join(fixtures, 'house-cat-locomotion.jpg');
    const cases: [string, string[], number, string, RegExp][] = [
      ['a model folder that is not there', ['--model', join(dir, 'no-model'), '--out', join(dir, 'out')], 1, 'MODEL_NOT_FOUND', /^unknown model ".*no-model"/],
      // /proc takes no new folder: as root too, where a read-only mode would not stop the write.
      ['an --out that cannot be made', ['--out', '/proc/gradcam-out'], 1, 'OUTPUT_UNWRITABLE', /^cannot create the output folder \/proc\/gradcam-out: ENOENT/],
      ['a --class the model does not have', ['--class', '9', '--out', join(dir, 'out')], 2, 'USAGE_ERROR', /^--class 9 is out of range/],
      // Without parseArgs's advice on positionals that start with "-", whose quotes do not pair.
      ['an unknown option', ['--bogus', '--out', join(dir, 'out')], 2, 'USAGE_ERROR', /^Unknown option '--bogus'$/],
      // parseArgs said "argument is ambiguous", on three lines, and advised --top-k=-XYZ, which is refused in turn.
      ['a negative number as a value', ['--top-k', '-1', '--out', join(dir, 'out')], 2, 'USAGE_ERROR', /^--top-k has no value: what follows it starts with "-" \(another option, or a negative number, which no option of gradcam takes\); a value that starts with "-", such as an id, is written --top-k=-…$/],
    ];
    for (const [label, args, status, code, message] of cases) {
      const run = gradcam('explain', image, '--json', '--backend', 'wasm', ...args);
      assert.equal(run.status, status, `${label}: ${run.stderr}`);
      assert.equal(run.stdout.split('\n').filter(Boolean).length, 1, `${label}: one line on stdout: ${run.stdout}`);
      const summary = JSON.parse(run.stdout) as { explained: number; error: { code: string; message: string } | null };
      assert.equal(summary.explained, 0, label);
      assert.equal(summary.error?.code, code, label);
      assert.match(summary.error.message, message, label);
      assert.equal(run.stderr.trim().split('\n').length, 1, `${label}: one line on stderr: ${run.stderr}`);
      assert.match(run.stderr, /^gradcam explain: /, label);
      assert.ok(run.stderr.includes(`: ${summary.error.message}`), `${label}: stderr says what --json says: ${run.stderr}`);
    }
    assert.equal(existsSync(join(dir, 'out')), false, 'no empty --out left');
  }));

  test('explain --help says how output folders are named', () => {
    const help = gradcam('explain', '--help');
    assert.equal(help.status, 0);
    assert.match(help.stdout, /<name> is the file name\s+without its extension, each character other than A-Z a-z 0-9 _ \. - made _/);
    assert.match(help.stdout, /-2, -3/);
  });

  test('an unexpected error is one line with its code and exit 1, not a stack trace', () => withTempDir('gradcam-eio-', async (dir) => {
    // An I/O error where no code expects one: stat throws instead of rejecting, for one path.
    const hook = join(dir, 'stat-eio.mjs');
    await writeFile(
      hook,
      `import fsp from 'node:fs/promises';
import { syncBuiltinESMExports } from 'node:module';
const original = fsp.stat;
fsp.stat = (path, ...rest) => {
  if (String(path).endsWith('eio-here')) throw Object.assign(new Error(\`EIO: i/o error, stat '\${path}'\`), { code: 'EIO', errno: -5, syscall: 'stat' });
  return original(path, ...rest);
};
syncBuiltinESMExports();
`,
    );
    const result = spawnSync(process.execPath, ['--import', hook, bin, 'explain', join(dir, 'eio-here')], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(result.status, 1, result.stderr);
    assert.deepEqual(result.stderr.trim().split('\n'), [`gradcam explain: EIO: i/o error, stat '${join(dir, 'eio-here')}'`]);
  }));

  test('src/main.ts started directly (node --import tsx) runs the command, as bin/gradcam.js does', () => {
    const main = fileURLToPath(new URL('./main.ts', import.meta.url));
    const help = spawnSync(process.execPath, ['--import', 'tsx', main, '--help'], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(help.status, 0, help.stderr);
    assert.match(help.stdout, /^Usage: gradcam <command>/);
    const unknown = spawnSync(process.execPath, ['--import', 'tsx', main, 'bogus'], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(unknown.status, 2, unknown.stderr);
    assert.match(unknown.stderr, /unknown command "bogus"/);
  });

  test('every command takes -h as it takes --help: its usage on stdout, exit 0', () => {
    for (const command of ['explain', 'models', 'up', 'demo', 'jobs', 'sweep-partials']) {
      const long = gradcam(command, '--help');
      assert.equal(long.status, 0, `${command} --help: ${long.stderr}`);
      const short = gradcam(command, '-h');
      assert.equal(short.status, 0, `${command} -h: ${short.stderr}`);
      assert.equal(short.stdout, long.stdout, command);
      assert.match(short.stdout, new RegExp(`^Usage: gradcam ${command}`), command);
    }
  });

  test('gradcam with no command prints the usage on stderr (exit 2); --help prints it on stdout (exit 0)', () => {
    const none = gradcam();
    assert.equal(none.status, 2);
    assert.equal(none.stdout, '');
    assert.match(none.stderr, /^Usage: gradcam <command>/);
    const help = gradcam('--help');
    assert.equal(help.status, 0);
    assert.match(help.stdout, /^Usage: gradcam <command>/);
    assert.equal(help.stderr, '');
  });

  test('gradcam --help names every action of gradcam jobs: failed, retry, pause and resume', () => {
    const jobsLines = gradcam('--help').stdout.split('\n').filter((line) => line.startsWith('  jobs ')).join('\n');
    for (const action of ['failed', 'retry', 'pause', 'resume']) assert.match(jobsLines, new RegExp(`\\b${action}\\b`), `${action} is not in:\n${jobsLines}`);
  });

  test('gradcam --version (and -v) prints the CLI\'s version from its package.json, exit 0; --help mentions it', async () => {
    const { version } = JSON.parse(await readFile(fileURLToPath(new URL('../package.json', import.meta.url)), 'utf8')) as { version: string };
    for (const flag of ['--version', '-v']) {
      const run = gradcam(flag);
      assert.equal(run.status, 0, `${flag}: ${run.stderr}`);
      assert.equal(run.stdout, `gradcam ${version}\n`, flag);
      assert.equal(run.stderr, '', flag);
    }
    assert.match(gradcam('--help').stdout, /\n {2}-v, --version +print gradcam's version\n/);
  });

  test('an --out that cannot be a folder is one line before the model loads: a file (exit 2), /proc/nope (exit 1, no endless mkdir), "" (exit 2)', () => withTempDir('gradcam-badout-', async (dir) => {
    await writeFile(join(dir, 'afile'), 'a file');
    const image = join(fixtures, 'house-cat-locomotion.jpg');
    const cases: [string, number, string][] = [
      [join(dir, 'afile'), 2, `gradcam explain: --out ${join(dir, 'afile')}: it is a file, not a folder (see gradcam explain --help)`],
      [join(dir, 'afile', 'sub'), 2, `gradcam explain: --out ${join(dir, 'afile', 'sub')}: a part of the path is a file, not a folder (see gradcam explain --help)`],
      ['', 2, 'gradcam explain: --out must name a folder, got "" (see gradcam explain --help)'],
    ];
    if (existsSync('/proc/self')) cases.push(['/proc/nope', 1, 'gradcam explain: cannot create the output folder /proc/nope: ENOENT: no such file or directory']);
    for (const [out, status, line] of cases) {
      const result = spawnSync(process.execPath, [bin, 'explain', image, '--out', out], { encoding: 'utf8', timeout: 30_000 });
      assert.equal(result.status, status, `--out "${out}": ${result.stderr}`);
      assert.deepEqual(result.stderr.trim().split('\n'), [line], 'one line, and no model line before it');
    }
    const nested = join(dir, 'new', 'deeper', 'out');
    const made = gradcam('explain', image, '--out', nested);
    assert.equal(made.status, 0, made.stderr);
    assert.deepEqual(await readdir(nested), ['house-cat-locomotion']);
  }));

  test('unknown model, unknown layer, bad options: one clear line each', () => {
    const image = join(fixtures, 'house-cat-locomotion.jpg');
    const model = gradcam('explain', image, '--model', 'no-such-model');
    assert.equal(model.status, 1);
    assert.match(model.stderr, /MODEL_NOT_FOUND: unknown model "no-such-model"/);
    const layer = gradcam('explain', image, '--layer', 'no_such_layer');
    assert.equal(layer.status, 1);
    assert.match(layer.stderr, /TARGET_LAYER_NOT_FOUND: .*no_such_layer/);
    const klass = gradcam('explain', image, '--class', '9');
    assert.equal(klass.status, 2);
    assert.match(klass.stderr, /--class 9 is out of range/);
    const topK = gradcam('explain', image, '--top-k', '6');
    assert.equal(topK.status, 2, topK.stderr);
    assert.match(topK.stderr, /--top-k 6 is more than the 5 classes of nsfw-mobilenet-v2/);
    const method = gradcam('explain', image, '--method', 'magic');
    assert.equal(method.status, 2);
    assert.match(method.stderr, /unknown method "magic"/);
  });

  test('an error once the output folder is made (unknown model or layer, --class or --top-k past the model) removes the folders the run made, and only those', () => withTempDir('gradcam-made-', async (dir) => {
    const image = join(fixtures, 'house-cat-locomotion.jpg');
    await mkdir(join(dir, 'there'));
    const cases: [string[], number][] = [[['--model', 'no-such-model'], 1], [['--layer', 'no_such_layer'], 1], [['--class', '9'], 2], [['--top-k', '5000'], 2]];
    for (const [args, status] of cases) {
      const run = gradcam('explain', image, ...args, '--out', join(dir, 'there', 'new', 'deeper'));
      assert.equal(run.status, status, `${args.join(' ')}: ${run.stderr}`);
      assert.deepEqual(await readdir(dir), ['there'], `${args.join(' ')}: the folder that was there stays`);
      assert.deepEqual(await readdir(join(dir, 'there')), [], `${args.join(' ')}: new/deeper, made by the run, are gone`);
    }
  }));

  test('a run whose every image fails says nothing was written, not "→ out/" for the folder it removed', () => withTempDir('gradcam-none-', async (dir) => {
    await writeFile(join(dir, 'notes.jpg'), 'this is not an image');
    const run = gradcam('explain', join(dir, 'notes.jpg'), '--backend', 'wasm', '--out', join(dir, 'out'));
    assert.equal(run.status, 1, run.stderr);
    assert.equal(existsSync(join(dir, 'out')), false, 'the empty --out the run made is removed');
    assert.match(run.stdout, /^0 explained, 1 failed in [\d.]+s, nothing written$/m, run.stdout);
    assert.doesNotMatch(run.stdout, /→/, 'the summary points at no folder');
  }));

  test('an option without its value or an empty number is a usage error (exit 2, one line, no stack trace)', () => {
    const image = join(fixtures, 'house-cat-locomotion.jpg');
    const cases: [string[], RegExp][] = [
      [['--top-k'], /--top-k <value>' argument missing/],
      [['--alpha', ''], /--alpha must be between 0 and 1, got ""/],
      [['--alpha', ' '], /--alpha must be between 0 and 1/],
      [['--overlay-max-side', ''], /--overlay-max-side must be a non-negative integer, got ""/],
      [['--score-cam-channels', '0x10'], /--score-cam-channels must be a non-negative integer/],
      // A batch is decoded whole: 1,000 photos at once could run the process out of memory.
      [['--batch', '1000'], /--batch must be at most 256 \(images per engine call, decoded together\), got "1000"/],
    ];
    for (const [args, message] of cases) {
      const run = gradcam('explain', image, ...args);
      assert.equal(run.status, 2, `${args.join(' ')}: ${run.stderr}`);
      assert.match(run.stderr, message);
      assert.equal(run.stderr.trim().split('\n').length, 1, run.stderr);
    }
  });
});

test('a file name with a newline or a terminal escape is printed escaped: one line per file, nothing sent to the terminal raw', () => withTempDir('gradcam-control-', async (dir) => {
  await copyFile(join(fixtures, 'house-cat-locomotion.jpg'), join(dir, 'good.jpg'));
  await writeFile(join(dir, 'bad\n✓ good2.jpg: fine.jpg'), 'not an image');
  await writeFile(join(dir, 'esc\x1b[2Jred.jpg'), 'not an image');
  const run = gradcam('explain', dir, '--out', join(dir, 'out'));
  assert.equal(run.status, 0, run.stderr);
  const failed = run.stderr.split('\n').filter((l) => l.startsWith('✗'));
  assert.ok(failed.some((l) => l.startsWith(`✗ ${dir}/bad\\n✓ good2.jpg: fine.jpg: IMAGE_`)), run.stderr);
  assert.ok(failed.some((l) => l.startsWith(`✗ ${dir}/esc\\x1b[2Jred.jpg: IMAGE_`)), run.stderr);
  assert.equal(failed.length, 2, run.stderr);
  assert.doesNotMatch(run.stderr, /\x1b/, 'no raw escape');
  const json = gradcam('explain', dir, '--out', join(dir, 'out'), '--json');
  const summary = JSON.parse(json.stdout) as { failures: { file: string }[] };
  assert.deepEqual(summary.failures.map((f) => f.file).sort(), [join(dir, 'bad\n✓ good2.jpg: fine.jpg'), join(dir, 'esc\x1b[2Jred.jpg')], '--json keeps the names as they are');
}));

test('gradcam models lists the built-ins with their discovered target layers', () => {
  const run = gradcam('models', '--json');
  assert.equal(run.status, 0, run.stderr);
  const rows = run.stdout.trim().split('\n').map((l) => JSON.parse(l) as { name: string; targetLayer: string });
  assert.deepEqual(
    rows.map((r) => [r.name, r.targetLayer.split('/').slice(-2).join('/')]),
    [
      ['nsfw-mobilenet-v2', 'out_relu'],
      ['nsfw-mobilenet-v2-graph', 'Conv_1/Relu6'],
      ['nsfw-inception-v3', 'mixed10'],
    ],
  );
});

test('gradcam models --json: an error that stops it is still one JSON line on stdout, with a stable code; stderr and the exit status as without --json', () => {
  const run = gradcam('models', '--json', '--bogus');
  assert.equal(run.status, 2, run.stderr);
  assert.equal(run.stdout.split('\n').filter(Boolean).length, 1, `one line on stdout: ${run.stdout}`);
  assert.deepEqual(JSON.parse(run.stdout), { error: { code: 'USAGE_ERROR', message: "Unknown option '--bogus'" } });
  assert.equal(run.stderr.trim().split('\n').length, 1, run.stderr);
  assert.match(run.stderr, /^gradcam models: Unknown option '--bogus'/);
});

test('gradcam sweep-partials removes stale temporary files only, says what it did, and refuses bad arguments', () => withTempDir('gradcam-sweep-', async (store) => {
  await mkdir(join(store, 'run', '1'), { recursive: true });
  const object = join(store, 'run', '1', 'explanation.json');
  const stale = join(store, 'run', '1', '.gradcam-0.overlay.jpg.0123456789abcdef.partial');
  const fresh = join(store, 'run', '1', '.gradcam-0.npy.fedcba9876543210.partial');
  await writeFile(object, '{}');
  await writeFile(stale, Buffer.alloc(2_000_000));
  await writeFile(fresh, 'x');
  const twoHoursAgo = new Date(Date.now() - 2 * 3_600_000);
  await utimes(stale, twoHoursAgo, twoHoursAgo);
  await utimes(object, twoHoursAgo, twoHoursAgo);

  const dry = gradcam('sweep-partials', store, '--dry-run');
  assert.equal(dry.status, 0, dry.stderr);
  assert.match(dry.stdout, /would remove 1 temporary file \(2\.0 MB\).*kept 1/);
  assert.equal((await readdir(join(store, 'run', '1'))).length, 3);

  const run = gradcam('sweep-partials', store, '--older-than', '90m');
  assert.equal(run.status, 0, run.stderr);
  assert.match(run.stdout, /removed 1 temporary file/);
  assert.deepEqual((await readdir(join(store, 'run', '1'))).sort(), ['.gradcam-0.npy.fedcba9876543210.partial', 'explanation.json']);

  const badAge = gradcam('sweep-partials', store, '--older-than', 'soon');
  assert.equal(badAge.status, 2);
  assert.match(badAge.stderr, /--older-than must be a number and a unit/);
  const noFolder = gradcam('sweep-partials', join(store, 'missing'));
  assert.equal(noFolder.status, 2);
  assert.match(noFolder.stderr, /is not a folder/);
}));
