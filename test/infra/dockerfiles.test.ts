import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { readRepoFile, repoPath } from './infra-files.ts';

const execFileAsync = promisify(execFile);

interface Instruction {
  readonly keyword: string;
  readonly args: string;
}

/** Dockerfile instructions with line continuations joined and comments dropped. */
function instructions(path: string): Instruction[] {
  const joined = readRepoFile(path)
    .split('\n')
    .filter((line) => !/^\s*#/.test(line))
    .join('\n')
    .replace(/\\\n/g, ' ');
  return joined
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '')
    .map((line) => {
      const [keyword = '', ...rest] = line.split(/\s+/);
      return { keyword: keyword.toUpperCase(), args: rest.join(' ') };
    });
}

/** FROM images with `${ARG}` replaced by the ARG defaults declared before the first FROM. */
function baseImages(list: readonly Instruction[]): string[] {
  const args = new Map<string, string>();
  const images: string[] = [];
  for (const { keyword, args: text } of list) {
    if (keyword === 'ARG' && images.length === 0) {
      const [name = '', value = ''] = text.split('=');
      args.set(name, value);
    }
    if (keyword === 'FROM') images.push((text.split(/\s+/)[0] ?? '').replace(/\$\{(\w+)\}/g, (_, name: string) => args.get(name) ?? ''));
  }
  return images;
}

function runs(list: readonly Instruction[]): string {
  return list
    .filter((i) => i.keyword === 'RUN')
    .map((i) => i.args)
    .join('\n');
}

const dockerfiles = ['infra/docker/Dockerfile', 'infra/docker/worker-gpu.Dockerfile'];

test('every COPY source from the build context exists (the context is the repository root)', () => {
  for (const path of dockerfiles) {
    for (const { keyword, args } of instructions(path)) {
      if (keyword !== 'COPY' || args.includes('--from=')) continue;
      const words = args.split(/\s+/).filter((w) => !w.startsWith('--'));
      for (const source of words.slice(0, -1)) assert.ok(existsSync(repoPath(source)), `${path}: COPY ${source}: no such path`);
    }
  }
});

test('the app image is Node 24 (LTS; Node 20 is past its end of life) on Debian bookworm and installs production dependencies only', () => {
  const list = instructions('infra/docker/Dockerfile');
  for (const image of baseImages(list)) assert.match(image, /^node:24-bookworm-slim$/);
  assert.match(runs(list), /npm ci --omit=dev/);
  const cmd = list.find((i) => i.keyword === 'CMD')?.args ?? '';
  assert.equal(cmd, '["node", "services/ingest/src/main.ts"]', 'Node 24 runs the TypeScript itself (types stripped): no tsx, no esbuild at start');
});

test('the worker image is CUDA 11.2 + cuDNN 8 (libtensorflow 2.9.1) and really installs tfjs-node-gpu', () => {
  const list = instructions('infra/docker/worker-gpu.Dockerfile');
  const images = baseImages(list);
  assert.ok(images.includes('nvidia/cuda:11.2.2-cudnn8-runtime-ubuntu20.04'), `bases: ${images.join(', ')}`);
  assert.ok(images.includes('node:20-bookworm-slim'), 'Node 20, the one its tfjs-node-gpu binding has run on');
  const script = runs(list);
  assert.match(script, /npm ci --omit=dev --ignore-scripts/);
  assert.match(script, /cd node_modules\/@tensorflow\/tfjs-node-gpu\s*&&[\s\S]*npm run install/, 'the libtensorflow download runs explicitly');
  assert.match(script, /ls -l deps\/lib\/libtensorflow\.so/, 'the build fails when libtensorflow is missing');
  assert.match(script, /tfjs_binding\.node/, 'the build fails when the binding is missing');
  assert.match(script, /require\('@tensorflow\/tfjs-node-gpu'\)/, 'the build loads the binding once');
  const env = list.filter((i) => i.keyword === 'ENV').map((i) => i.args).join(' ');
  assert.match(env, /GRADCAM_BACKEND=tensorflow-gpu/);
  assert.ok(list.some((i) => i.keyword === 'USER' && i.args !== 'root'), 'runs as a non-root user');
});

test('.dockerignore keeps node_modules and secrets out, and what the images need in', () => {
  const patterns = readRepoFile('.dockerignore')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
  for (const required of ['**/node_modules', '.env', '.git']) assert.ok(patterns.includes(required), `.dockerignore lacks ${required}`);
  const needed = ['package.json', 'package-lock.json', 'packages', 'services', 'infra/docker', 'infra/docker/healthcheck.mjs'];
  for (const path of needed) {
    assert.ok(!patterns.some((p) => p === path || path.startsWith(`${p}/`)), `.dockerignore excludes ${path}, which the images need`);
  }
});

async function healthcheck(url: string): Promise<number> {
  try {
    await execFileAsync(process.execPath, [repoPath('infra/docker/healthcheck.mjs'), url, '2000'], { timeout: 10_000 });
    return 0;
  } catch (error) {
    return (error as { code?: number }).code ?? -1;
  }
}

test('the container healthcheck passes on 2xx and fails on an error status or no server', async () => {
  const server = createServer((request, response) => {
    response.statusCode = request.url === '/readyz' ? 200 : 503;
    response.end('{}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  try {
    assert.equal(await healthcheck(`http://127.0.0.1:${port}/readyz`), 0);
    assert.equal(await healthcheck(`http://127.0.0.1:${port}/not-ready`), 1);
  } finally {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
  assert.equal(await healthcheck(`http://127.0.0.1:${port}/readyz`), 1, 'nothing listening');
});
