import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { encodeNpy } from '@gradcam/imaging';

const script = fileURLToPath(new URL('../../scripts/compare-explanations.mjs', import.meta.url));

interface Map {
  readonly stem: string;
  readonly values: readonly number[];
  readonly shape?: readonly [number, number];
  readonly overlay?: string;
}

/** One explanation's folder as `gradcam explain` and the worker write it: the maps, their overlays, the manifest naming them. */
async function explanation(folder: string, classIndex: number, maps: readonly Map[], backend = 'wasm', weightsSha256?: string): Promise<void> {
  await mkdir(folder, { recursive: true });
  for (const map of maps) {
    await writeFile(join(folder, `${map.stem}.npy`), encodeNpy(Float32Array.from(map.values), map.shape ?? [1, map.values.length]));
    await writeFile(join(folder, `${map.stem}.overlay.jpg`), map.overlay ?? `overlay of ${map.stem}`);
  }
  const manifest = {
    fingerprint: 'f'.repeat(64),
    ...(weightsSha256 === undefined ? {} : { model: { name: 'nsfw', version: '1', weightsSha256 } }),
    engine: { version: '0.2.0', tfjsVersion: '4.22.0', backend },
    preprocessing: { width: 224, height: 224 },
    prediction: { classIndex, logits: [0.5, 1.5, 2.5, 0] },
    explanations: maps.map((m) => ({ rawMap: { path: `${m.stem}.npy` }, overlay: { path: `${m.stem}.overlay.jpg` } })),
  };
  await writeFile(join(folder, 'explanation.json'), JSON.stringify(manifest));
}

function compare(a: string, b: string): { status: number | null; stderr: string; summary: Record<string, unknown> | undefined } {
  const run = spawnSync(process.execPath, [script, a, b], { encoding: 'utf8' });
  const line = run.stdout.trim();
  return { status: run.status, stderr: run.stderr, summary: line === '' ? undefined : (JSON.parse(line) as Record<string, unknown>) };
}

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'compare-explanations-'));
});
after(() => rm(dir, { recursive: true, force: true }));

test('another predicted class, or a map one side lacks, is counted; the maps both have are still compared (it crashed with ENOENT)', async () => {
  const [a, b] = [join(dir, 'classes-a'), join(dir, 'classes-b')];
  // "cat": predicted 2 on A, 1 on B, so gradcam-2.npy is A's only and gradcam-1.npy B's only.
  await explanation(join(a, 'cat'), 2, [{ stem: 'gradcam-2', values: [0, 1] }]);
  await explanation(join(b, 'cat'), 1, [{ stem: 'gradcam-1', values: [0, 1] }]);
  // "dog": A has a LayerCAM map that B was not asked for; its Grad-CAM map differs by 0.25.
  await explanation(join(a, 'dog'), 2, [{ stem: 'gradcam-2', values: [0, 2] }, { stem: 'layercam-2', values: [1, 1] }]);
  await explanation(join(b, 'dog'), 2, [{ stem: 'gradcam-2', values: [0, 1.75] }], 'cpu');
  const { status, stderr, summary } = compare(a, b);
  assert.equal(status, 0, stderr);
  assert.deepEqual(summary, {
    images: 2,
    maps: 1,
    identicalMaps: 0,
    unmatchedMaps: 3,
    shapeMismatches: 0,
    classMismatches: 1,
    worstLogitDiff: 0,
    worstMapAbsDiff: 0.25,
    worstMapDiffOfPeak: 0.125,
    overlays: 1,
    identicalOverlays: 1,
    manifestsDiffering: { fingerprint: 0, backend: 1, preprocessing: 0, imaging: 0, weights: 0 },
    backends: { a: ['wasm'], b: ['wasm', 'cpu'] },
  });
});

test('maps of another shape are a shape mismatch, not a NaN; identical maps and overlays are counted byte for byte', async () => {
  const [a, b] = [join(dir, 'shape-a'), join(dir, 'shape-b')];
  await explanation(join(a, 'cat'), 2, [{ stem: 'gradcam-2', values: [0, 1, 2, 3], shape: [2, 2] }, { stem: 'layercam-2', values: [3, 2, 1, 0.5], overlay: 'one' }]);
  await explanation(join(b, 'cat'), 2, [{ stem: 'gradcam-2', values: [0, 1, 2, 3], shape: [1, 4] }, { stem: 'layercam-2', values: [3, 2, 1, 0.5], overlay: 'two' }]);
  const { status, summary } = compare(a, b);
  assert.equal(status, 0);
  assert.equal(summary?.maps, 2);
  assert.equal(summary?.shapeMismatches, 1);
  assert.equal(summary?.identicalMaps, 1);
  assert.equal(summary?.worstMapAbsDiff, 0);
  assert.equal(summary?.overlays, 2);
  assert.equal(summary?.identicalOverlays, 1, 'the layercam overlays differ');
});

test("two explanations' own folders (a pipeline's {id}/ and a gradcam explain image folder) are compared with each other", async () => {
  const [pipeline, cli] = [join(dir, 'nsfw', 'v1', 'dt=2026-11-29', 'req-42'), join(dir, 'gradcam-out', 'sheep')];
  await explanation(pipeline, 2, [{ stem: 'gradcam-2', values: [0.5, 1] }]);
  await explanation(cli, 2, [{ stem: 'gradcam-2', values: [0.5, 1] }]);
  const { status, summary } = compare(pipeline, cli);
  assert.equal(status, 0);
  assert.equal(summary?.images, 1);
  assert.equal(summary?.identicalMaps, 1);
  assert.equal(summary?.identicalOverlays, 1);
});

test('no image common to both folders exits 1, saying so on stderr', async () => {
  const [a, b] = [join(dir, 'none-a'), join(dir, 'none-b')];
  await explanation(join(a, 'cat'), 2, [{ stem: 'gradcam-2', values: [0, 1] }]);
  await explanation(join(b, 'dog'), 2, [{ stem: 'gradcam-2', values: [0, 1] }]);
  const { status, summary, stderr } = compare(a, b);
  assert.equal(status, 1);
  assert.equal(summary?.images, 0);
  assert.equal(stderr, `compare-explanations: no explanation is common to ${a} and ${b} (image folders are matched by name)\n`);
});

test('a folder that is not there, or a file, is named on one line (exit 1), not only the usage line nor a stack trace', async () => {
  const a = join(dir, 'named-a');
  await explanation(join(a, 'cat'), 2, [{ stem: 'gradcam-2', values: [0, 1] }]);
  const missing = compare(a, join(dir, 'typo'));
  assert.equal(missing.status, 1);
  assert.equal(missing.summary, undefined);
  assert.equal(missing.stderr.split('\n')[0], `compare-explanations: ${join(dir, 'typo')}: no such folder`);
  const file = join(a, 'cat', 'explanation.json');
  const notFolder = compare(file, a);
  assert.equal(notFolder.status, 1);
  assert.equal(notFolder.stderr.split('\n')[0], `compare-explanations: ${file}: not a folder`);
});

test("manifests of one model version whose weights differ (model.weightsSha256) are counted apart; the same weights are not", async () => {
  const [a, b] = [join(dir, 'weights-a'), join(dir, 'weights-b')];
  await explanation(join(a, 'cat'), 2, [{ stem: 'gradcam-2', values: [0, 1] }], 'wasm', 'a'.repeat(64));
  await explanation(join(b, 'cat'), 2, [{ stem: 'gradcam-2', values: [0, 1.5] }], 'wasm', 'b'.repeat(64));
  await explanation(join(a, 'dog'), 2, [{ stem: 'gradcam-2', values: [0, 1] }], 'wasm', 'a'.repeat(64));
  await explanation(join(b, 'dog'), 2, [{ stem: 'gradcam-2', values: [0, 1] }], 'wasm', 'a'.repeat(64));
  const { status, stderr, summary } = compare(a, b);
  assert.equal(status, 0, stderr);
  assert.deepEqual(summary?.manifestsDiffering, { fingerprint: 0, backend: 0, preprocessing: 0, imaging: 0, weights: 1 });
});
