import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import sharp from 'sharp';

export interface ScreenshotComparison {
  /** 'created' when the baseline was (re)written on request instead of compared; 'missing' when there is none to compare with. */
  readonly outcome: 'created' | 'matched' | 'differs' | 'missing';
  readonly message: string;
}

export interface CompareOptions {
  /** A pixel differs when any channel differs by more than this (0–255). */
  readonly channelThreshold?: number;
  /** The share of differing pixels allowed (0–1). */
  readonly maxDifferingRatio?: number;
  /** Rewrite the baseline instead of comparing (UPDATE_SCREENSHOTS=1). */
  readonly update?: boolean;
}

async function rgba(png: Buffer) {
  const { data, info } = await sharp(png).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height };
}

/**
 * Compares a PNG screenshot to a committed baseline, tolerant of font antialiasing: pixels are
 * compared per channel with a threshold and a small share of them may differ. A size mismatch
 * counts the pixels outside the common area as differing. Writes the baseline only on update
 * (UPDATE_SCREENSHOTS=1): a missing one is a failure, or a checkout without the PNG would test
 * nothing. On a mismatch (or a missing baseline) writes the actual image to a temp folder.
 */
export async function compareToBaseline(actual: Buffer, baselinePath: string, options: CompareOptions = {}): Promise<ScreenshotComparison> {
  const { channelThreshold = 40, maxDifferingRatio = 0.02, update = false } = options;
  if (update) {
    await mkdir(dirname(baselinePath), { recursive: true });
    await writeFile(baselinePath, actual);
    return { outcome: 'created', message: `wrote the screenshot baseline ${baselinePath} (UPDATE_SCREENSHOTS=1): look at it before committing it` };
  }
  if (!existsSync(baselinePath)) {
    const dir = await mkdtemp(join(tmpdir(), 'gradcam-screenshot-'));
    await writeFile(join(dir, 'actual.png'), actual);
    return {
      outcome: 'missing',
      message: `no screenshot baseline at ${baselinePath} (actual in ${dir}): to write it, run UPDATE_SCREENSHOTS=1 node scripts/test.mjs test/review/review-page.test.ts, look at the PNG, and commit it`,
    };
  }
  const [a, b] = await Promise.all([rgba(actual), rgba(await sharp(baselinePath).png().toBuffer())]);
  const width = Math.max(a.width, b.width);
  const height = Math.max(a.height, b.height);
  const mask = Buffer.alloc(width * height, 0);
  let differing = 0;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      let differs = x >= a.width || x >= b.width || y >= a.height || y >= b.height;
      if (!differs) {
        const i = (y * a.width + x) * 4;
        const j = (y * b.width + x) * 4;
        for (let c = 0; c < 4 && !differs; c++) differs = Math.abs((a.data[i + c] as number) - (b.data[j + c] as number)) > channelThreshold;
      }
      if (differs) {
        differing++;
        mask[y * width + x] = 255;
      }
    }
  }
  const ratio = differing / (width * height);
  const summary = `${differing} of ${width * height} pixels differ (${(ratio * 100).toFixed(2)}%, allowed ${(maxDifferingRatio * 100).toFixed(2)}%); actual ${a.width}×${a.height}, baseline ${b.width}×${b.height}`;
  if (ratio <= maxDifferingRatio) return { outcome: 'matched', message: summary };
  const dir = await mkdtemp(join(tmpdir(), 'gradcam-screenshot-'));
  await writeFile(join(dir, 'actual.png'), actual);
  await sharp(mask, { raw: { width, height, channels: 1 } }).png().toFile(join(dir, 'diff.png'));
  return { outcome: 'differs', message: `${summary}. Actual and diff mask in ${dir}; if the change is intended, rerun with UPDATE_SCREENSHOTS=1` };
}
