#!/usr/bin/env node
// Compares explanations of the same images made two ways (two backends, the CLI and the pipeline,
// a batch of 1 and of 8, a run and its rerun): predicted classes, logits, every .npy map (bit for
// bit, and its largest difference), every overlay's bytes, and what the manifests say made them
// (fingerprint, backend, preprocessing, imaging, the model's weights: model.weightsSha256, where
// recorded; a model retrained under the same version differs only there). Prints one JSON line; exits 1 when a folder is
// missing or no image is common to both.
//   node scripts/compare-explanations.mjs <folder A> <folder B>
// A folder is a `gradcam explain` output (one folder per image, matched by name) or one
// explanation's own folder (holding explanation.json), such as a pipeline's
// {prefix}/{model}/{version}/dt=…/{id}/; two such folders are compared with each other.
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const usage = 'usage: node scripts/compare-explanations.mjs <gradcam explain output or explanation folder A> <B>';
const [a, b] = process.argv.slice(2);
if (!a || !b) {
  console.error(usage);
  process.exit(1);
}
// A mistyped folder is named, not answered with the usage line alone.
for (const folder of [a, b]) {
  const problem = !existsSync(folder) ? 'no such folder' : !statSync(folder).isDirectory() ? 'not a folder' : undefined;
  if (problem) {
    console.error(`compare-explanations: ${folder}: ${problem}\n${usage}`);
    process.exit(1);
  }
}

/** The float32 payload of a .npy file (header length: uint16 at 8 in version 1, uint32 in 2 and 3). */
function readNpy(file) {
  const bytes = readFileSync(file);
  const [headerLength, start] = bytes[6] === 1 ? [bytes.readUInt16LE(8), 10] : [bytes.readUInt32LE(8), 12];
  const header = bytes.subarray(start, start + headerLength).toString('latin1');
  const shape = (/'shape':\s*\(([^)]*)\)/.exec(header)?.[1] ?? '').split(',').map((s) => s.trim()).filter(Boolean).join('x');
  return { shape, data: new Float32Array(bytes.buffer.slice(bytes.byteOffset + start + headerLength, bytes.byteOffset + bytes.length)) };
}

const manifestOf = (folder) => JSON.parse(readFileSync(join(folder, 'explanation.json'), 'utf8'));
const isExplanation = (folder) => existsSync(join(folder, 'explanation.json'));
const pairs = isExplanation(a) && isExplanation(b)
  ? [[a, b]]
  : readdirSync(a)
      .map((name) => [join(a, name), join(b, name)])
      .filter(([left, right]) => statSync(left).isDirectory() && isExplanation(left) && isExplanation(right));

/** The manifest's artifacts of one kind, by path (the files an explanation is made of, nothing else in the folder). */
const listed = (manifest, kind) => (manifest.explanations ?? []).map((e) => e[kind]?.path).filter((path) => typeof path === 'string');
const same = (x, y) => JSON.stringify(x) === JSON.stringify(y);

let maps = 0;
let identicalMaps = 0;
let unmatchedMaps = 0;
let shapeMismatches = 0;
let overlays = 0;
let identicalOverlays = 0;
let classMismatches = 0;
let worstLogitDiff = 0;
let worstMapAbsDiff = 0;
let worstMapDiffOfPeak = 0;
const differ = { fingerprint: 0, backend: 0, preprocessing: 0, imaging: 0, weights: 0 };
const backends = { a: new Set(), b: new Set() };
for (const [left, right] of pairs) {
  const [m, n] = [manifestOf(left), manifestOf(right)];
  const [p, q] = [m.prediction, n.prediction];
  if (p.classIndex !== q.classIndex) classMismatches++;
  p.logits.forEach((value, i) => (worstLogitDiff = Math.max(worstLogitDiff, Math.abs(value - q.logits[i]))));
  if (m.fingerprint !== n.fingerprint) differ.fingerprint++;
  if (m.engine?.backend !== n.engine?.backend) differ.backend++;
  if (!same(m.preprocessing, n.preprocessing)) differ.preprocessing++;
  if (!same(m.imaging, n.imaging)) differ.imaging++;
  if (m.model?.weightsSha256 !== n.model?.weightsSha256) differ.weights++;
  backends.a.add(m.engine?.backend);
  backends.b.add(n.engine?.backend);
  // A map one side has and the other not (another class predicted, other methods asked) is
  // counted, not compared.
  const [leftMaps, rightMaps] = [listed(m, 'rawMap'), listed(n, 'rawMap')];
  unmatchedMaps += leftMaps.filter((f) => !rightMaps.includes(f)).length + rightMaps.filter((f) => !leftMaps.includes(f)).length;
  for (const file of leftMaps.filter((f) => rightMaps.includes(f))) {
    const [x, y] = [readNpy(join(left, file)), readNpy(join(right, file))];
    maps++;
    if (x.shape !== y.shape || x.data.length !== y.data.length) {
      shapeMismatches++;
      continue;
    }
    let diff = 0;
    let peak = 0;
    for (let i = 0; i < x.data.length; i++) {
      diff = Math.max(diff, Math.abs(x.data[i] - y.data[i]));
      peak = Math.max(peak, Math.abs(x.data[i]));
    }
    if (readFileSync(join(left, file)).equals(readFileSync(join(right, file)))) identicalMaps++;
    worstMapAbsDiff = Math.max(worstMapAbsDiff, diff);
    worstMapDiffOfPeak = Math.max(worstMapDiffOfPeak, peak > 0 ? diff / peak : diff);
  }
  const rightOverlays = listed(n, 'overlay');
  for (const file of listed(m, 'overlay').filter((f) => rightOverlays.includes(f))) {
    overlays++;
    if (readFileSync(join(left, file)).equals(readFileSync(join(right, file)))) identicalOverlays++;
  }
}
console.log(
  JSON.stringify({
    images: pairs.length,
    maps,
    identicalMaps,
    unmatchedMaps,
    shapeMismatches,
    classMismatches,
    worstLogitDiff,
    worstMapAbsDiff,
    worstMapDiffOfPeak,
    overlays,
    identicalOverlays,
    manifestsDiffering: differ,
    backends: { a: [...backends.a], b: [...backends.b] },
  }),
);
if (pairs.length === 0) {
  console.error(`compare-explanations: no explanation is common to ${a} and ${b} (image folders are matched by name)`);
  process.exit(1);
}
