import { readFile } from 'node:fs/promises';
import { basename, extname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { readLocalStackConfig } from '@gradcam/config';
import { UsageError } from '../cli-error.ts';
import { listInputFiles } from '../input-files.ts';
import { IngestClient } from '../local-stack/ingest-client.ts';
import { stackFileName } from '../local-stack/local-stack.ts';
import { repoRoot } from '../local-stack/service-process.ts';

export const demoUsage = `Usage: gradcam demo [files or folders…] [--method LIST] [--top-k K]

Posts images (default: the bundled samples) to the running local stack (npm start), waits for
their explanations and prints where each one landed. Reads the ingest URL and token that
\`gradcam up\` left in .gradcam/${stackFileName}.`;

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
  const { files } = await listInputFiles(inputs);
  if (files.length === 0) throw new UsageError(`no images found in ${inputs.join(', ')}`);
  const topK = values['top-k'] === undefined ? undefined : Number(values['top-k']);
  const methods = values.method?.split(',').map((m) => m.trim());
  const runId = Date.now().toString(36);
  const records = await Promise.all(
    files.map(async (file) => ({
      id: `demo-${runId}-${basename(file, extname(file)).replace(/[^A-Za-z0-9_-]/g, '_')}`.slice(0, 128),
      model: { name: 'nsfw-mobilenet-v2' },
      image: { base64: (await readFile(file)).toString('base64') },
      ...((methods || topK) && { explain: { ...(methods && { methods }), ...(topK && { topK }) } }),
      metadata: { source: basename(file) },
    })),
  );
  const client = new IngestClient({ baseUrl: stack.ingestUrl, token: stack.token, onRetry: (reason, waitMs) => console.error(`${reason}; retrying in ${(waitMs / 1000).toFixed(1)} s`) });
  const posted = await client.postBatch(records).catch((error: unknown) => {
    const cause = (error as { cause?: { code?: string } }).cause;
    if (cause?.code === 'ECONNREFUSED') throw new UsageError(`the local stack is not answering at ${stack.ingestUrl}: start it with \`npm start\` in another terminal`);
    throw error;
  });
  console.log(`posted ${records.length} images to ${stack.ingestUrl}: ${posted.accepted} accepted, ${posted.rejected} rejected`);
  for (const r of posted.results) if (r.error) console.log(`  ${r.id ?? `#${r.index}`}: ${r.error.code}: ${r.error.message}`);
  const ids = posted.results.filter((r) => r.status !== undefined && r.id !== undefined).map((r) => r.id as string);
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
