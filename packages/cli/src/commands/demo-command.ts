import { basename, extname, join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { readLocalStackConfig } from '@gradcam/config';
import { camMethodSchema, maxExplainClasses } from '@gradcam/contracts';
import { UsageError } from '../cli-error.ts';
import { CommandError } from '../command-error.ts';
import { checkInputFile, listInputFiles, readInputFile } from '../input-files.ts';
import { IngestAnswerError, IngestClient, type InferenceStatusBody } from '../local-stack/ingest-client.ts';
import { positiveInt } from '../option-values.ts';
import { printable } from '../printable.ts';
import { readStackFile, stackFileName } from '../local-stack/stack-file.ts';
import { stackRunning } from '../local-stack/state-lock.ts';
import { repoRoot } from '../local-stack/service-process.ts';

export const demoUsage = `Usage: gradcam demo [files or folders…] [--model NAME] [--method LIST] [--top-k K]

Posts images (default: the bundled samples) to the running local stack (npm start), waits for
their explanations and prints where each one landed. Reads the ingest URL, token and served
models that \`gradcam up\` left in .gradcam/${stackFileName} (GRADCAM_STATE_DIR/${stackFileName}), only
while that gradcam up runs.

Options:
  --model NAME   one of the models the stack serves (GRADCAM_MODELS; default: the first)
  --method LIST  comma-separated: ${camMethodSchema.options.join(', ')} (default gradcam)
  --top-k K      explain the K highest-scoring classes, 1 to ${maxExplainClasses}; a K over the model's classes explains them all (default: the predicted class)`;

/** The model every stack served before GRADCAM_MODELS was recorded. */
const defaultDemoModel = 'nsfw-mobilenet-v2';

/** --method as the ingest API takes it; a usage error names a method it does not know. */
export function parseDemoMethods(value: string | undefined): string[] | undefined {
  if (value === undefined) return undefined;
  const methods = value.split(',').map((m) => m.trim().toLowerCase());
  for (const method of methods) {
    if (!camMethodSchema.safeParse(method).success) throw new UsageError(`unknown method "${method}" (known: ${camMethodSchema.options.join(', ')})`);
  }
  return [...new Set(methods)];
}

/** --top-k as the ingest API takes it: 1 to maxExplainClasses. */
export function parseDemoTopK(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const k = positiveInt('top-k', value, 1);
  if (k > maxExplainClasses) throw new UsageError(`--top-k must be at most ${maxExplainClasses}, got "${value}"`);
  return k;
}

/** The model to post to: --model if the stack serves it, else the first the stack serves. */
export function demoModel(requested: string | undefined, served: readonly string[] | undefined): string {
  if (requested === undefined) return served?.[0] ?? defaultDemoModel;
  if (served !== undefined && !served.includes(requested)) {
    throw new UsageError(`--model ${requested} is not served by the local stack (it serves ${served.join(', ')}; set GRADCAM_MODELS for npm start to change that)`);
  }
  return requested;
}

/**
 * "finished 4/5 (1 failed, 2 not sampled)": done, failed and skipped all finish; only done ones
 * were explained. A skipped record did not fail: the stack's capture policy chose not to explain it.
 */
export function progressLine(statuses: ReadonlyMap<string, InferenceStatusBody>, total: number): string {
  const count = (status: InferenceStatusBody['status']) => [...statuses.values()].filter((s) => s.status === status).length;
  const parts = [[count('failed'), 'failed'], [count('skipped'), 'not sampled']].filter(([n]) => n !== 0).map(([n, what]) => `${n} ${what}`);
  return `finished ${statuses.size}/${total}${parts.length > 0 ? ` (${parts.join(', ')})` : ''}`;
}

/** A record that finished without being explained: why, in one line's tail. */
function unexplainedLine(status: InferenceStatusBody): string {
  if (status.failure) return `${status.status} ${status.failure.code}: ${status.failure.message}`;
  if (status.status === 'skipped') return `skipped: not sampled by the stack's capture policy${status.capture ? ` (GRADCAM_CAPTURE_POLICY=${status.capture.policy})` : ''}`;
  return status.status;
}

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

/** An error's message and its cause's code (fetch's "fetch failed" says nothing alone). */
function reason(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const code = (error as { cause?: { code?: unknown } }).cause?.code;
  return typeof code === 'string' ? `${message}: ${code}` : message;
}

/**
 * `read()` of a listed image, or undefined when it cannot be read as explain reads its inputs
 * (removed since it was listed: NOT_FOUND; a FIFO or device: NOT_A_FILE; over the 32 MiB limit:
 * IMAGE_TOO_LARGE; EACCES…): that image is skipped with a line, as explain fails it, and the demo
 * goes on with the others.
 */
async function unlessUnreadable<T>(path: string, read: () => Promise<T>): Promise<T | undefined> {
  try {
    return await read();
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (typeof code !== 'string') throw error;
    console.error(`  ${printable(path)}: ${code}: ${(error as Error).message}`);
    return undefined;
  }
}

const present = <T>(value: T | undefined): value is T => value !== undefined;

export async function demoCommand(argv: readonly string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    options: { model: { type: 'string' }, method: { type: 'string' }, 'top-k': { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help) {
    console.log(demoUsage);
    return 0;
  }
  // Before anything is read or posted: a mistake in the call is found without a stack.
  const topK = parseDemoTopK(values['top-k']);
  const methods = parseDemoMethods(values.method);
  const config = readLocalStackConfig(process.env);
  const stateDir = resolve(repoRoot, config.stateDir);
  const stack = await readStackFile(stateDir);
  // A file left by a gradcam up killed by SIGKILL names ports that another stack, with another token, may hold now.
  if (!(await stackRunning(stateDir))) {
    throw new UsageError(
      `no local stack is running on ${stateDir} (the gradcam up that wrote its ${stackFileName} is gone): start it with \`npm start\`, or set GRADCAM_STATE_DIR to the state folder of the one that runs`,
    );
  }
  const inputs = positionals.length > 0 ? positionals : [join(repoRoot, 'test/fixtures/images')];
  const { files, missing } = await listInputFiles(inputs);
  for (const m of missing) console.error(`  ${printable(m.path)}: ${m.reason}`);
  if (files.length === 0) throw new UsageError(`no images found in ${inputs.join(', ')}`);
  const model = demoModel(values.model, stack.models);
  const runId = Date.now().toString(36);
  const record = async (file: DemoFile) => {
    const bytes = await unlessUnreadable(file.path, () => readInputFile(file.path));
    return bytes && {
      id: demoId(runId, file),
      model: { name: model },
      image: { base64: bytes.toString('base64') },
      ...((methods !== undefined || topK !== undefined) && { explain: { ...(methods && { methods }), ...(topK !== undefined && { topK }) } }),
      metadata: { source: relative(process.cwd(), file.path) || basename(file.path) },
    };
  };
  const client = new IngestClient({ baseUrl: stack.ingestUrl, token: stack.token, onRetry: (reason, waitMs) => console.error(`${reason}; retrying in ${(waitMs / 1000).toFixed(1)} s`) });
  const sized = await Promise.all(files.map(async (path, index) => {
    const info = await unlessUnreadable(path, () => checkInputFile(path));
    return info && { path, index, bytes: info.size };
  }));
  const results: PostedRecord[] = [];
  for (const request of planRequests(sized.filter(present))) {
    const records = (await Promise.all(request.map(record))).filter(present);
    if (records.length === 0) continue;
    const posted = await postWithin(client, records).catch((error: unknown) => {
      const cause = (error as { cause?: { code?: string } }).cause;
      if (cause?.code === 'ECONNREFUSED') throw new UsageError(`the local stack is not answering at ${stack.ingestUrl}: start it with \`npm start\` in another terminal`);
      throw new CommandError(`posting to the local stack at ${stack.ingestUrl} failed (${reason(error)})`);
    });
    results.push(...posted);
  }
  const rejected = results.filter((r) => r.error !== undefined);
  // Every image listed is in the count: one that could not be read (its line is above) was never posted.
  const skipped = files.length - results.length;
  console.log(
    `posted ${results.length} of ${files.length} images to ${stack.ingestUrl}: ${results.length - rejected.length} accepted, ${rejected.length} rejected${skipped > 0 ? `, ${skipped} not posted (could not be read)` : ''}`,
  );
  for (const r of rejected) console.log(`  ${r.id}: ${r.error?.code}: ${r.error?.message}`);
  const ids = results.filter((r) => r.error === undefined).map((r) => r.id);
  let shown = '';
  const statuses = await client
    .waitForAll(ids, 300_000, (_, finished) => {
      const line = progressLine(finished, ids.length);
      if (line !== shown) process.stderr.write(`\r  ${(shown = line)}`);
    })
    .catch((error: unknown) => {
      // The stack stopped (Ctrl-C in its terminal, a crash) or stalled: say so, not a stack trace.
      if (shown !== '') process.stderr.write('\n');
      throw new CommandError(`the local stack stopped answering at ${stack.ingestUrl} while the demo waited (${reason(error)}); is \`npm start\` still running?`);
    });
  process.stderr.write('\n');
  if (stack.s3) console.log(`explanations go to ${stack.s3.url} at ${stack.s3.location}:`);
  let done = 0;
  for (const id of ids) {
    const status = statuses.get(id);
    if (!status) continue;
    if (status.status === 'done' && status.manifest) {
      done++;
      const where = stack.storageDir ? join(stack.storageDir, status.folder) : stack.s3 ? `s3://${stack.s3.bucket}/${status.folder}` : status.folder;
      const first = status.manifest.explanations[0];
      console.log(`  ${id}: ${status.manifest.prediction.label} → ${where}${first ? ` (${first.overlay.path})` : ''}`);
    } else {
      console.log(`  ${id}: ${unexplainedLine(status)}`);
    }
  }
  console.log(`${done} of ${ids.length} explained; GET ${stack.ingestUrl}/v1/inferences/<id> gives the manifest and links.`);
  if (done > 0 && stack.reviewUrl && stack.reviewToken) console.log(`Judge them on the review page: ${stack.reviewUrl}/ (reviewer token ${stack.reviewToken})`);
  return done > 0 ? 0 : 1;
}
