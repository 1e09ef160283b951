import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { configErrorExitCode } from '@gradcam/config';
import { freePort, startRedisServer } from '@gradcam/dev-services';

// Ingest's composition root, run as in production, with REDIS_URL a Redis Cluster node: it answers
// PING and INFO, so nothing else would tell; the queue's scripts would fail key by key.

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));

/** Runs ingest's main on a Redis Cluster node until it exits: its exit code, stderr's lines and the line expected. */
async function ingestOnClusterNode(processes: number): Promise<{ code: number | null; lines: string[]; expected: string }> {
  const clusterNode = await startRedisServer({ extraArgs: ['--cluster-enabled', 'yes'] });
  const storageDir = await mkdtemp(join(tmpdir(), 'gradcam-ingest-cluster-'));
  const env = {
    ...process.env,
    REDIS_URL: clusterNode.url,
    GRADCAM_HOST: '127.0.0.1',
    GRADCAM_INGEST_PORT: String(await freePort()),
    GRADCAM_API_TOKENS: 'ingest-main-test-token-0123456789',
    GRADCAM_INGEST_PROCESSES: String(processes),
    GRADCAM_STORAGE_DIR: storageDir,
    LOG_LEVEL: 'warn',
  };
  const child = spawn(process.execPath, ['--import', 'tsx', 'services/ingest/src/main.ts'], { cwd: repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  // A hang (the service serving on the cluster node) ends the test instead of holding it.
  const guard = setTimeout(() => child.kill('SIGKILL'), 45_000);
  try {
    const code = await new Promise<number | null>((resolve) => child.once('exit', (exitCode) => resolve(exitCode)));
    const expected = `ingest: configuration error: REDIS_URL: ${clusterNode.url} is a Redis Cluster node (cluster_enabled:1); gradcam-pipeline needs a single Redis primary (its scripts touch keys in several hash slots): use a non-cluster Redis or a cluster-mode-disabled replication group`;
    return { code, lines: stderr.trim().split('\n'), expected };
  } finally {
    clearTimeout(guard);
    child.kill('SIGKILL');
    await clusterNode.stop();
    await rm(storageDir, { recursive: true, force: true });
  }
}

test('REDIS_URL a Redis Cluster node: ingest stops with one line naming REDIS_URL, exit 78', { timeout: 60_000 }, async () => {
  const { code, lines, expected } = await ingestOnClusterNode(1);
  assert.equal(code, configErrorExitCode, lines.join('\n'));
  assert.deepEqual(lines, [expected]);
});

test('with GRADCAM_INGEST_PROCESSES=2 the primary stops too (its processes were restarted for ever), exit 78', { timeout: 60_000 }, async () => {
  const { code, lines, expected } = await ingestOnClusterNode(2);
  assert.equal(code, configErrorExitCode, lines.join('\n'));
  // The line from each process that got that far, and the primary's: the same line.
  assert.deepEqual([...new Set(lines)], [expected]);
});
