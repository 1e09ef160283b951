import { stat } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { FsBlobStore } from '@gradcam/storage';
import { UsageError } from '../cli-error.ts';
import { durationMs } from '../option-values.ts';
import { printable } from '../printable.ts';

export const sweepUsage = `Usage: gradcam sweep-partials <store folder> [--older-than 1h] [--dry-run]

Removes the temporary .partial files that writers killed mid-write (SIGKILL, out of memory, power
loss) left in a local filesystem store (GRADCAM_STORAGE_DIR, .gradcam/storage for npm start).
Objects are never touched, and only temporary files not modified for --older-than (default 1h,
units s, m, h, d; at least 1m) are removed, so a write in progress is safe. A folder it may not
read, or a file it may not remove, is one line each and the rest is still swept (exit 1). S3 needs no sweep: give the bucket
a lifecycle rule that aborts incomplete multipart uploads.`;

/**
 * A write in progress is told from an abandoned one only by its modification time, touched as data
 * arrives; below a minute a slow upload, or simply the one being written now, would be swept.
 */
const minimumAgeMs = 60_000;

function parseAge(text: string): number {
  const ms = durationMs('older-than', text);
  if (ms < minimumAgeMs) {
    throw new UsageError(`--older-than must be at least 1m: younger temporary files may be writes still in progress; got "${text}"`);
  }
  return ms;
}

export async function sweepCommand(argv: readonly string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    options: { 'older-than': { type: 'string' }, 'dry-run': { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help) {
    console.log(sweepUsage);
    return 0;
  }
  const [folder, ...extra] = positionals;
  if (folder === undefined || extra.length > 0) throw new UsageError('give exactly one store folder');
  const olderThanMs = parseAge(values['older-than'] ?? '1h');
  const isFolder = await stat(folder).then((s) => s.isDirectory(), () => false);
  if (!isFolder) throw new UsageError(`${folder} is not a folder`);
  // Only the folder matters here: the store never serves or signs anything in this command.
  const store = new FsBlobStore({ rootDir: folder, publicBaseUrl: 'http://127.0.0.1', signingSecret: 'sweep-partials-unused-secret' });
  const sweep = await store.sweepPartials({ olderThanMs, dryRun: values['dry-run'] === true });
  const verb = values['dry-run'] ? 'would remove' : 'removed';
  for (const failure of sweep.failed) console.error(`✗ ${printable(failure.path)}: ${failure.code}: ${failure.message} (not swept)`);
  const failed = sweep.failed.length;
  console.log(
    `${verb} ${sweep.removed} temporary file${sweep.removed === 1 ? '' : 's'} (${(sweep.removedBytes / 1e6).toFixed(1)} MB) in ${store.rootDir}; ` +
      `kept ${sweep.kept} modified in the last ${values['older-than'] ?? '1h'}` +
      (failed > 0 ? `; ${failed} folder${failed === 1 ? ' or file' : 's or files'} could not be swept` : ''),
  );
  return failed > 0 ? 1 : 0;
}
