import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFile, mkdtemp, rm, truncate, writeFile } from 'node:fs/promises';
import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { IngestClient } from '../local-stack/ingest-client.ts';
import { acquireStateLock } from '../local-stack/state-lock.ts';
import { runGradcam } from '../test-support/stack-processes.ts';
import { withTempDir } from '../test-support/temp-dir.ts';
import { type DemoFile, demoId, planRequests, postWithin } from './demo-command.ts';

const files = (...bytes: number[]): DemoFile[] => bytes.map((size, index) => ({ path: `/photos/${index}.jpg`, index, bytes: size }));

test('requests stay within the record and byte budgets, in order; an image over the byte budget goes alone', () => {
  const limits = { records: 3, bytes: 10_000 };
  const plan = planRequests(files(100, 100, 100, 100, 3_000, 5_000, 20_000, 100), limits);
  assert.deepEqual(
    plan.map((request) => request.map((f) => f.index)),
    [[0, 1, 2], [3, 4], [5], [6], [7]],
  );
  assert.deepEqual(planRequests([], limits), []);
});

test('ids are unique when two folders hold images of the same name, and fit the 128-character limit', () => {
  const same = [
    { path: '/photos/cats/img1.jpg', index: 0, bytes: 1 },
    { path: '/photos/sheep/img1.jpg', index: 1, bytes: 1 },
  ];
  const ids = same.map((file) => demoId('run', file));
  assert.equal(new Set(ids).size, 2, ids.join(' '));
  assert.match(ids[0] as string, /^demo-run-1-img1$/);
  const long = demoId('run', { path: `/p/${'é'.repeat(200)}.png`, index: 41, bytes: 1 });
  assert.equal(long.length, 128);
  assert.match(long, /^demo-run-42-_+$/);
});

test('a request over the server\'s body limit is halved until it fits; an image alone over it is refused alone', async () => {
  const limit = 1_000;
  const sizes: number[] = [];
  const http = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const body = Buffer.concat(chunks);
      sizes.push(body.length);
      response.writeHead(body.length > limit ? 413 : 200, { 'content-type': 'application/json' });
      if (body.length > limit) return response.end(JSON.stringify({ error: { code: 'BODY_TOO_LARGE', message: `over ${limit} bytes` } }));
      const { records } = JSON.parse(body.toString('utf8')) as { records: { id: string }[] };
      response.end(JSON.stringify({ accepted: records.length, rejected: 0, results: records.map((r, index) => ({ index, id: r.id, status: 'queued' })) }));
    });
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  try {
    const client = new IngestClient({ baseUrl: `http://127.0.0.1:${(http.address() as AddressInfo).port}`, token: 't' });
    const records = ['a', 'b', 'c', 'd', 'e'].map((id) => ({ id, image: { base64: 'x'.repeat(id === 'c' ? 2_000 : 200) } }));
    const posted = await postWithin(client, records);
    assert.deepEqual(posted.map((r) => [r.id, r.error?.code ?? 'queued']), [['a', 'queued'], ['b', 'queued'], ['c', 'BODY_TOO_LARGE'], ['d', 'queued'], ['e', 'queued']]);
    assert.ok(sizes.length > 1, 'split');
  } finally {
    http.closeAllConnections();
    http.close();
  }
});

/**
 * A gradcam demo run against `server` through a state folder whose local-stack.json points at it,
 * as a running gradcam up leaves it: this process holds the folder's gradcam-up.pid (`running`),
 * `stackFile` replaces the file's text, and `env` adds to the environment.
 */
async function demoAgainst(
  server: Server | undefined,
  args: string[],
  models?: string[],
  storage?: Record<string, unknown>,
  { running = true, stackFile, env, hangsAfterMs }: { running?: boolean; stackFile?: string; env?: NodeJS.ProcessEnv; hangsAfterMs?: number } = {},
) {
  const stateDir = await mkdtemp(join(tmpdir(), 'gradcam-demo-'));
  const lock = running ? await acquireStateLock(stateDir) : undefined;
  try {
    const ingestUrl = server ? `http://127.0.0.1:${(server.address() as AddressInfo).port}` : 'http://127.0.0.1:1';
    const review = { reviewUrl: 'http://127.0.0.1:2', reviewToken: 'reviewer-token' };
    await writeFile(join(stateDir, 'local-stack.json'), stackFile ?? JSON.stringify({ ingestUrl, token: 't', ...(storage ?? { storageDir: join(stateDir, 'storage') }), ...review, ...(models && { models }) }));
    const run = runGradcam(['demo', fixture, ...args], { ...process.env, ...env, GRADCAM_STATE_DIR: stateDir });
    // Not a speed check: a demo blocked for good (a read that never ends) is killed, and the test fails, rather than hang.
    const hung = hangsAfterMs === undefined ? undefined : setTimeout(() => run.child.kill('SIGKILL'), hangsAfterMs);
    const { status, signal } = await run.exited;
    clearTimeout(hung);
    assert.notEqual(signal, 'SIGKILL', `the demo never ended:\n${run.stdout()}\n${run.stderr()}`);
    return { status, stdout: run.stdout(), stderr: run.stderr(), stateDir };
  } finally {
    await lock?.release();
    await rm(stateDir, { recursive: true, force: true });
  }
}

/** A stand-in ingest API: accepts every record, then answers each GET with `status(id, poll)`. */
async function fakeIngest(status: (id: string, poll: number) => unknown, posted: unknown[] = []): Promise<Server> {
  let polls = 0;
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      response.writeHead(200, { 'content-type': 'application/json' });
      if (request.method === 'POST') {
        const { records } = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { records: { id: string }[] };
        posted.push(...records);
        return response.end(JSON.stringify({ accepted: records.length, rejected: 0, results: records.map((r, index) => ({ index, id: r.id, status: 'queued' })) }));
      }
      const id = decodeURIComponent((request.url ?? '').split('/').pop() ?? '');
      response.end(JSON.stringify(status(id, polls++)));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

const fixture = fileURLToPath(new URL('../../../../test/fixtures/images/house-cat-locomotion.jpg', import.meta.url));

test('demo options are checked like explain\'s: one line, exit 2, before anything is posted', async () => {
  const cases: [string[], RegExp][] = [
    [['--top-k', 'abc'], /--top-k must be a positive integer, got "abc"/],
    [['--top-k', '0'], /--top-k must be a positive integer, got "0"/],
    [['--top-k', '1.5'], /--top-k must be a positive integer, got "1.5"/],
    [['--top-k', '17'], /--top-k must be at most 16, got "17"/],
    [['--method', 'gradcam,magic'], /unknown method "magic" \(known: gradcam, gradcam\+\+/],
  ];
  for (const [args, message] of cases) {
    const run = await demoAgainst(undefined, args);
    assert.equal(run.status, 2, `${args.join(' ')}: ${run.stderr}`);
    assert.match(run.stderr, message);
    assert.equal(run.stderr.trim().split('\n').length, 1, run.stderr);
  }
});

test('the demo posts to the first model the stack serves; --model must be one of them', async () => {
  const posted: { model: { name: string }; explain?: unknown }[] = [];
  const server = await fakeIngest((id) => ({ id, status: 'done', folder: 'f', manifest: { explanations: [], prediction: { label: 'x' } } }), posted);
  try {
    const run = await demoAgainst(server, ['--top-k', '2', '--method', 'GradCAM++'], ['nsfw-inception-v3', 'nsfw-mobilenet-v2']);
    assert.equal(run.status, 0, run.stderr);
    assert.deepEqual(posted.map((r) => [r.model.name, r.explain]), [['nsfw-inception-v3', { methods: ['gradcam++'], topK: 2 }]]);
    assert.match(run.stdout, /Judge them on the review page: http:\/\/127\.0\.0\.1:2\/ \(reviewer token reviewer-token\)/);
    const chosen = await demoAgainst(server, ['--model', 'nsfw-mobilenet-v2'], ['nsfw-inception-v3', 'nsfw-mobilenet-v2']);
    assert.equal(chosen.status, 0, chosen.stderr);
    assert.equal(posted.at(-1)?.model.name, 'nsfw-mobilenet-v2');
    const unknown = await demoAgainst(server, ['--model', 'nsfw-mobilenet-v2-graph'], ['nsfw-inception-v3']);
    assert.equal(unknown.status, 2, unknown.stderr);
    assert.match(unknown.stderr, /--model nsfw-mobilenet-v2-graph is not served by the local stack \(it serves nsfw-inception-v3;/);
  } finally {
    server.close();
  }
});

test('on S3 the demo says where explanations go (bucket, prefix, endpoint) and each one\'s s3:// folder', async () => {
  const folder = 'team-a/nsfw-mobilenet-v2/nsfwjs-4.4.0/dt=2026-11-28/x/';
  const server = await fakeIngest((id) => ({ id, status: 'done', folder, manifest: { explanations: [{ overlay: { path: 'gradcam-2.overlay.jpg' } }], prediction: { label: 'Neutral' } } }));
  try {
    const s3 = { bucket: 'gradcam', url: 's3://gradcam/team-a/', location: 'http://127.0.0.1:9000' };
    const run = await demoAgainst(server, [], undefined, { s3 });
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /^explanations go to s3:\/\/gradcam\/team-a\/ at http:\/\/127\.0\.0\.1:9000:$/m);
    assert.match(run.stdout, new RegExp(`: Neutral → s3://gradcam/${folder.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} \\(gradcam-2\\.overlay\\.jpg\\)$`, 'm'));
  } finally {
    server.close();
  }
});

test('progress says how many finished and how many of them failed', async () => {
  const server = await fakeIngest((id) => ({ id, status: 'failed', folder: 'f', failure: { code: 'IMAGE_CORRUPT', message: 'bad' } }));
  try {
    const run = await demoAgainst(server, []);
    assert.equal(run.status, 1, run.stderr);
    assert.match(run.stderr, /finished 1\/1 \(1 failed\)/);
    assert.doesNotMatch(run.stderr, /explained 1\/1/);
    assert.match(run.stdout, /0 of 1 explained/);
    assert.doesNotMatch(run.stdout, /review page/, 'nothing to judge');
  } finally {
    server.close();
  }
});

test('a record the capture policy did not sample is counted apart from the failed ones and says why', async () => {
  const policy = 'rate=0.1,confidence<0.6';
  const server = await fakeIngest((id) =>
    id.endsWith('sheep-pastoral')
      ? { id, status: 'skipped', folder: 'f', capture: { explain: false, reason: 'not-sampled', policy } }
      : { id, status: 'failed', folder: 'f', capture: { explain: true, reason: 'rate', policy }, failure: { code: 'IMAGE_CORRUPT', message: 'bad' } },
  );
  try {
    const run = await demoAgainst(server, [join(dirname(fixture), 'sheep-pastoral.jpg')]);
    assert.equal(run.status, 1, run.stderr);
    assert.match(run.stderr, /finished 2\/2 \(1 failed, 1 not sampled\)/);
    assert.match(run.stdout, /^ {2}demo-\S+-2-sheep-pastoral: skipped: not sampled by the stack's capture policy \(GRADCAM_CAPTURE_POLICY=rate=0\.1,confidence<0\.6\)$/m);
    assert.match(run.stdout, /^ {2}demo-\S+-1-house-cat-locomotion: failed IMAGE_CORRUPT: bad$/m);
  } finally {
    server.close();
  }
});

test('a stack that stops answering while the demo waits: one line saying so, exit 1', async () => {
  let server: Server | undefined;
  server = await fakeIngest((id, poll) => {
    // The stack goes away after the first answer, as a Ctrl-C in its terminal would take it.
    if (poll === 0) setImmediate(() => (server?.close(), server?.closeAllConnections()));
    return { id, status: 'queued', folder: 'f' };
  });
  const run = await demoAgainst(server, []);
  assert.equal(run.status, 1, run.stderr);
  const lines = run.stderr.trim().split('\n').map((l) => l.replace(/^.*\r/, ''));
  assert.match(lines.at(-1) as string, /^gradcam demo: the local stack stopped answering at http:\/\/127\.0\.0\.1:\d+ while the demo waited \(.*\); is `npm start` still running\?$/);
  assert.doesNotMatch(run.stderr, /\n\s+at /, 'no stack trace');
});

test('a local-stack.json whose gradcam up is gone (killed by SIGKILL), or that gradcam up did not write, is one line saying so', async () => {
  const posted: unknown[] = [];
  // Another stack on the ports the dead one had, with its own token: the demo must not post to it.
  const server = await fakeIngest((id) => ({ id, status: 'done', folder: 'f' }), posted);
  try {
    const stale = await demoAgainst(server, [], undefined, undefined, { running: false });
    assert.equal(stale.status, 2, stale.stderr);
    assert.deepEqual(stale.stderr.trim().split('\n'), [
      `gradcam demo: no local stack is running on ${stale.stateDir} (the gradcam up that wrote its local-stack.json is gone): start it with \`npm start\`, or set GRADCAM_STATE_DIR to the state folder of the one that runs (see gradcam demo --help)`,
    ]);
    assert.deepEqual(posted, [], 'nothing posted');
    for (const text of ['{bad', '{}', '[]', '{"ingestUrl":"http://127.0.0.1:1"}']) {
      const run = await demoAgainst(server, [], undefined, undefined, { stackFile: text });
      assert.equal(run.status, 1, `${text}: ${run.stderr}`);
      assert.deepEqual(run.stderr.trim().split('\n').length, 1, run.stderr);
      const [line = ''] = run.stderr.split('\n');
      assert.ok(line.startsWith(`gradcam demo: ${join(run.stateDir, 'local-stack.json')} is not the file gradcam up writes (`), line);
      assert.ok(line.endsWith('): stop `npm start` and start it again'), line);
    }
  } finally {
    server.close();
  }
});

test('an ingest URL that answers, but not as the ingest API (a web server\'s HTML page), is one line saying so', async () => {
  const server = createServer((request, response) => {
    request.resume();
    response.writeHead(404, { 'content-type': 'text/html' });
    response.end('<!DOCTYPE html><title>Not Found</title>');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const run = await demoAgainst(server, []);
    assert.equal(run.status, 1, run.stderr);
    const port = (server.address() as AddressInfo).port;
    assert.deepEqual(run.stderr.trim().split('\n'), [
      `gradcam demo: posting to the local stack at http://127.0.0.1:${port} failed (POST /v1/inferences:batch answered 404 text/html, not the ingest API's JSON: is http://127.0.0.1:${port} the gradcam ingest service?)`,
    ]);
  } finally {
    server.close();
  }
});

test('an image removed after it was listed is skipped with a NOT_FOUND line, and the demo goes on with the others', () => withTempDir('gradcam-demo-vanish-', async (dir) => {
  for (const name of ['stays.jpg', 'gone-before-size.jpg', 'gone-before-read.jpg']) await copyFile(fixture, join(dir, name));
  // The listing stats each image once; the demo then stats it for its size and opens it to read it: one goes before each.
  const hook = join(dir, 'remove-after-listing.mjs');
  await writeFile(
    hook,
    `import { unlinkSync } from 'node:fs';
import fsp from 'node:fs/promises';
import { syncBuiltinESMExports } from 'node:module';
const { stat, open } = fsp;
let stats = 0;
fsp.stat = (path, ...rest) => {
  if (String(path).endsWith('gone-before-size.jpg') && ++stats === 2) unlinkSync(path);
  return stat(path, ...rest);
};
fsp.open = (path, ...rest) => {
  if (String(path).endsWith('gone-before-read.jpg')) unlinkSync(path);
  return open(path, ...rest);
};
syncBuiltinESMExports();
`,
  );
  const posted: { metadata: { source: string } }[] = [];
  const server = await fakeIngest((id) => ({ id, status: 'done', folder: 'f', manifest: { explanations: [], prediction: { label: 'x' } } }), posted);
  try {
    const run = await demoAgainst(server, [dir], undefined, undefined, { env: { NODE_OPTIONS: `--import ${hook}` } });
    assert.equal(run.status, 0, run.stderr);
    assert.deepEqual(posted.map((r) => basename(r.metadata.source)).sort(), ['house-cat-locomotion.jpg', 'stays.jpg']);
    for (const name of ['gone-before-size.jpg', 'gone-before-read.jpg']) {
      assert.ok(run.stderr.split('\n').includes(`  ${join(dir, name)}: NOT_FOUND: no such file (removed since it was listed?)`), run.stderr);
    }
    assert.doesNotMatch(run.stderr, /ENOENT/);
    assert.match(run.stdout, /^posted 2 of 4 images to http:\S+: 2 accepted, 0 rejected, 2 not posted \(could not be read\)$/m);
    assert.match(run.stdout, /^2 of 2 explained/m);
  } finally {
    server.close();
  }
}));

test('a FIFO and a file over the 32 MiB limit are skipped with a line each, as explain fails them, without reading them; the others are posted and the summary counts the skipped', () => withTempDir('gradcam-demo-unreadable-', async (dir) => {
  // A FIFO no one writes to: reading it would block for ever.
  const fifo = join(dir, 'pipe.jpg');
  execFileSync('mkfifo', [fifo]);
  // Sparse: over the limit on its stat, without 33 MiB on disk.
  const huge = join(dir, 'huge.jpg');
  await writeFile(huge, '');
  await truncate(huge, 33 * 2 ** 20);
  const posted: { metadata: { source: string } }[] = [];
  const server = await fakeIngest((id) => ({ id, status: 'done', folder: 'f', manifest: { explanations: [], prediction: { label: 'x' } } }), posted);
  try {
    const run = await demoAgainst(server, [fifo, huge], undefined, undefined, { hangsAfterMs: 60_000 });
    assert.equal(run.status, 0, run.stderr);
    assert.deepEqual(posted.map((r) => basename(r.metadata.source)), ['house-cat-locomotion.jpg']);
    const lines = run.stderr.split('\n');
    assert.ok(lines.includes(`  ${fifo}: NOT_A_FILE: not a regular file (a FIFO, socket or device is never read)`), run.stderr);
    assert.ok(lines.includes(`  ${huge}: IMAGE_TOO_LARGE: image is ${33 * 2 ** 20} bytes, over the ${32 * 2 ** 20}-byte limit; send a smaller or more compressed file`), run.stderr);
    assert.match(run.stdout, /^posted 1 of 3 images to http:\S+: 1 accepted, 0 rejected, 2 not posted \(could not be read\)$/m);
    assert.match(run.stdout, /^1 of 1 explained/m);
  } finally {
    server.close();
  }
}));
