import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { startRedisServer } from '@gradcam/dev-services';
import { workerTestEnv } from './test-support/worker-main.ts';

// The worker's composition root, run as in production, with REDIS_URL a Redis Cluster node: it
// answers PING and INFO, and its first keyed command would fail with CLUSTERDOWN (MOVED on a
// cluster with slots), which said nothing about the cause.

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));

test('REDIS_URL a Redis Cluster node: the engine process stops with one line naming REDIS_URL (exit 78), and the supervisor gives up', { timeout: 240_000 }, async () => {
  const clusterNode = await startRedisServer({ extraArgs: ['--cluster-enabled', 'yes'] });
  const dir = await mkdtemp(join(tmpdir(), 'gradcam-worker-cluster-'));
  const env = workerTestEnv(clusterNode.url, join(dir, 'storage'));
  const child = spawn(process.execPath, ['--import', 'tsx', 'services/worker/src/main.ts'], { cwd: repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  // A hang (a worker serving on the cluster node) ends the test instead of holding it.
  const guard = setTimeout(() => child.kill('SIGKILL'), 200_000);
  try {
    const code = await new Promise<number | null>((resolve) => child.once('exit', (exitCode) => resolve(exitCode)));
    assert.equal(code, 1, `${stdout}\n${stderr}`);
    assert.equal(
      stderr.trim(),
      `worker: configuration error: REDIS_URL: ${clusterNode.url} is a Redis Cluster node (cluster_enabled:1); gradcam-pipeline needs a single Redis primary (its scripts touch keys in several hash slots): use a non-cluster Redis or a cluster-mode-disabled replication group`,
    );
    assert.match(stdout, /worker process 0 exited before it was ready \(code 78: a failure every start would repeat\); giving up/);
    assert.doesNotMatch(stdout, /CLUSTERDOWN|worker failed to start/);
  } finally {
    clearTimeout(guard);
    child.kill('SIGKILL');
    await clusterNode.stop();
    await rm(dir, { recursive: true, force: true });
  }
});
