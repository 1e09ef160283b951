import { readFile, stat } from 'node:fs/promises';
import { basename, extname, join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { readLocalStackConfig } from '@gradcam/config';
import { UsageError } from '../cli-error.ts';
import { listInputFiles } from '../input-files.ts';
import { IngestAnswerError, IngestClient } from '../local-stack/ingest-client.ts';
import { stackFileName } from '../local-stack/local-stack.ts';
import { repoRoot } from '../local-stack/service-process.ts';

export const demoUsage = `Usage: gradcam demo [files or folders…] [--method LIST] [--top-k K]

Posts images (default: the bundled samples) to the running local stack (npm start), waits for
their explanations and prints where each one landed. Reads the ingest URL and token that
\`gradcam up\` left in .gradcam/${stackFileName}.`;

/** An image the demo posts: its place in the listing makes its id unique (two folders may hold `a.jpg` each). */
export interface DemoFile {
  readonly path: string;
  readonly index: number;
  readonly bytes: number;
}

/**
 * At most this many records, and about this many bytes of JSON, per request: the ingest service
 * takes at most 1,000 records and GRADCAM_MAX_BODY_BYTES (64 MiB by default) per request, so a
 * folder of any size goes in pieces it accepts, and no request holds the whole folder in memory.
 */
const requestLimits = { records: 100, bytes: 8 * 1024 * 1024 };

/** A record's JSON: the image in base64 (4 bytes per 3) and about this much besides. */
const recordOverheadBytes = 512;

/** The files, in order, grouped into requests within `limits`; a file over the byte budget goes alone. */
export function planRequests(files: readonly DemoFile[], limits = requestLimits): DemoFile[][] {
  const requests: DemoFile[][] = [];
  let current: DemoFile[] = [];
  let bytes = 0;
  for (const file of files) {
    const size = Math.ceil(file.bytes / 3) * 4 + recordOverheadBytes;
    if (current.length > 0 && (current.length === limits.records || bytes + size > limits.bytes)) {
      requests.push(current);
      current = [];
      bytes = 0;
    }
    current.push(file);
    bytes += size;
  }
  if (current.length > 0) requests.push(current);
  return requests;
}

/** `demo-<run>-<n>-<file name>`: readable, unique within the run, within the 128-character id limit. */
export function demoId(runId: string, file: DemoFile): string {
  const prefix = `demo-${runId}-${file.index + 1}-`;
  return prefix + basename(file.path, extname(file.path)).replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 128 - prefix.length);
}

interface PostedRecord {
  readonly id: string;
  readonly error?: { code: string; message: string };
}

/**
 * Posts the records, halving a request the server refuses as too large (its body limit,
 * GRADCAM_MAX_BODY_BYTES, may be set below the demo's request size): an image alone over the
 * limit is that image's refusal, not the demo's end.
 */
export async function postWithin(client: IngestClient, records: readonly { id: string }[]): Promise<PostedRecord[]> {
  try {
    const answer = await client.postBatch(records);
    return answer.results.map((r) => ({ id: records[r.index]!.id, ...(r.error && { error: r.error }) }));
  } catch (error) {
    if (!(error instanceof IngestAnswerError && error.status === 413)) throw error;
    if (records.length === 1) return [{ id: records[0]!.id, error: { code: error.code ?? 'BODY_TOO_LARGE', message: error.message } }];
    const half = Math.ceil(records.length / 2);
    return [...(await postWithin(client, records.slice(0, half))), ...(await postWithin(client, records.slice(half)))];
  }
}

export async function demoCommand(argv: readonly string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    options: { method: { type: 'string' }, 'top-k': { type: 'string' }, help: { type: 'boolean' } },
  });
  if (values.help) {
    console.log(demoUsage);
    return 0;
  }
  const config = readLocalStackConfig(process.env);
  const stackFile = join(resolve(repoRoot, config.stateDir), stackFileName);
  const stack = await readFile(stackFile, 'utf8').then(
    (text) => JSON.parse(text) as { ingestUrl: string; token: string; storageDir?: string; reviewUrl?: string; reviewToken?: string },
    () => {
      throw new UsageError(`no local stack found (${stackFile} is missing): start it first with \`npm start\` in another terminal`);
    },
  );
  const inputs = positionals.length > 0 ? positionals : [join(repoRoot, 'test/fixtures/images')];
  const { files, missing } = await listInputFiles(inputs);
  for (const m of missing) console.error(`  ${m.path}: ${m.reason}`);
  if (files.length === 0) throw new UsageError(`no images found in ${inputs.join(', ')}`);
  const topK = values['top-k'] === undefined ? undefined : Number(values['top-k']);
  const methods = values.method?.split(',').map((m) => m.trim());
  const runId = Date.now().toString(36);
  const record = async (file: DemoFile) => ({
    id: demoId(runId, file),
    model: { name: 'nsfw-mobilenet-v2' },
    image: { base64: (await readFile(file.path)).toString('base64') },
    ...((methods || topK) && { explain: { ...(methods && { methods }), ...(topK && { topK }) } }),
    metadata: { source: relative(process.cwd(), file.path) || basename(file.path) },
  });
  const client = new IngestClient({ baseUrl: stack.ingestUrl, token: stack.token, onRetry: (reason, waitMs) => console.error(`${reason}; retrying in ${(waitMs / 1000).toFixed(1)} s`) });
  const demoFiles = await Promise.all(files.map(async (path, index) => ({ path, index, bytes: (await stat(path)).size })));
  const results: PostedRecord[] = [];
  for (const request of planRequests(demoFiles)) {
    const records = await Promise.all(request.map(record));
    const posted = await postWithin(client, records).catch((error: unknown) => {
      const cause = (error as { cause?: { code?: string } }).cause;
      if (cause?.code === 'ECONNREFUSED') throw new UsageError(`the local stack is not answering at ${stack.ingestUrl}: start it with \`npm start\` in another terminal`);
      throw error;
    });
    results.push(...posted);
  }
  const rejected = results.filter((r) => r.error !== undefined);
  console.log(`posted ${results.length} images to ${stack.ingestUrl}: ${results.length - rejected.length} accepted, ${rejected.length} rejected`);
  for (const r of rejected) console.log(`  ${r.id}: ${r.error?.code}: ${r.error?.message}`);
  const ids = results.filter((r) => r.error === undefined).map((r) => r.id);
  let shown = -1;
  const statuses = await client.waitForAll(ids, 300_000, (n) => {
    if (n !== shown) process.stderr.write(`\r  explained ${(shown = n)}/${ids.length}`);
  });
  process.stderr.write('\n');
  let done = 0;
  for (const id of ids) {
    const status = statuses.get(id);
    if (!status) continue;
    if (status.status === 'done' && status.manifest) {
      done++;
      const where = stack.storageDir ? join(stack.storageDir, status.folder) : status.folder;
      const first = status.manifest.explanations[0];
      console.log(`  ${id}: ${status.manifest.prediction.label} → ${where}${first ? ` (${first.overlay.path})` : ''}`);
    } else {
      console.log(`  ${id}: ${status.status}${status.failure ? ` ${status.failure.code}: ${status.failure.message}` : ''}`);
    }
  }
  console.log(`${done} of ${ids.length} explained; GET ${stack.ingestUrl}/v1/inferences/<id> gives the manifest and links.`);
  if (stack.reviewUrl && stack.reviewToken) console.log(`Judge them on the review page: ${stack.reviewUrl}/ (reviewer token ${stack.reviewToken})`);
  return done > 0 ? 0 : 1;
}
