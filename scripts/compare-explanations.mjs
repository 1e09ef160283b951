#!/usr/bin/env node
// Compares two `gradcam explain` output folders made from the same images (say on two backends):
// predicted classes, logits and every .npy map. Prints one JSON line; exits 1 when a folder is
// missing or no image is common to both.
//   node scripts/compare-explanations.mjs <folder A> <folder B>
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const [a, b] = process.argv.slice(2);
if (!a || !b || !existsSync(a) || !existsSync(b)) {
  console.error('usage: node scripts/compare-explanations.mjs <gradcam explain output A> <output B>');
  process.exit(1);
}

/** The float32 payload of a .npy file (version 1 header: magic, 2 version bytes, uint16 length). */
function readNpy(file) {
  const bytes = readFileSync(file);
  const headerLength = bytes.readUInt16LE(8);
  return new Float32Array(bytes.buffer.slice(bytes.byteOffset + 10 + headerLength, bytes.byteOffset + bytes.length));
}

const prediction = (folder) => JSON.parse(readFileSync(join(folder, 'explanation.json'), 'utf8')).prediction;
let images = 0;
let maps = 0;
let classMismatches = 0;
let worstLogitDiff = 0;
let worstMapDiffOfPeak = 0;
for (const name of readdirSync(a)) {
  const [left, right] = [join(a, name), join(b, name)];
  if (!statSync(left).isDirectory() || !existsSync(join(right, 'explanation.json'))) continue;
  images++;
  const [p, q] = [prediction(left), prediction(right)];
  if (p.classIndex !== q.classIndex) classMismatches++;
  p.logits.forEach((value, i) => (worstLogitDiff = Math.max(worstLogitDiff, Math.abs(value - q.logits[i]))));
  for (const file of readdirSync(left).filter((f) => f.endsWith('.npy'))) {
    const [x, y] = [readNpy(join(left, file)), readNpy(join(right, file))];
    let diff = 0;
    let peak = 0;
    for (let i = 0; i < x.length; i++) {
      diff = Math.max(diff, Math.abs(x[i] - y[i]));
      peak = Math.max(peak, Math.abs(x[i]));
    }
    worstMapDiffOfPeak = Math.max(worstMapDiffOfPeak, peak > 0 ? diff / peak : diff);
    maps++;
  }
}
console.log(JSON.stringify({ images, maps, classMismatches, worstLogitDiff, worstMapDiffOfPeak }));
if (images === 0) process.exit(1);
