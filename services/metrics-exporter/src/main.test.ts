import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { explainQueueName } from '@gradcam/contracts';
import { jobInvalidCode } from '@gradcam/queue';
import { type RedisServer, freePort, startRedisServer } from '@gradcam/dev-services';
import { Queue, UnrecoverableError, Worker } from 'bullmq';

// The exporter's composition root run as `node services/metrics-exporter/src/main.ts`, as in
// production: what it does with the queue's event stream is wired there.
const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));

let server: RedisServer;
before(async () => {
  server = await startRedisServer();
});
after(async () => {
  await server.stop();
});

async function eventually<T>(what: string, check: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = await check();
    if (found !== undefined) return found;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test('a job whose data fails the schema fails with JOB_INVALID: the exporter lives on and counts it', async () => {
  const prefix = `t${randomUUID().slice(0, 8)}`;
  const port = await freePort();
  const env = { ...process.env, REDIS_URL: server.url, GRADCAM_EXPORTER_PORT: String(port), GRADCAM_HOST: '127.0.0.1', GRADCAM_QUEUE_PREFIX: prefix, LOG_LEVEL: 'info' };
  const child = spawn(process.execPath, ['--import', 'tsx', 'services/metrics-exporter/src/main.ts'], { cwd: repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  let exit: string | undefined;
  const exited = new Promise<void>((resolve) => child.once('exit', (code, signal) => resolve(void (exit = `exit ${code} (${signal})`))));
  const connection = { host: '127.0.0.1', port: Number(new URL(server.url).port) };
  const queue = new Queue(explainQueueName, { connection, prefix });
  // What the batching worker does with data that fails the schema.
  const worker = new Worker(explainQueueName, () => Promise.reject(new UnrecoverableError(`${jobInvalidCode}: model: Required; explain: Required`)), { connection, prefix });
  worker.on('error', () => {});
  const failedTotal = async (): Promise<string | undefined> => {
    if (exit !== undefined) assert.fail(`the exporter ended: ${exit}\n${output}`);
    const body = await fetch(`http://127.0.0.1:${port}/metrics`).then((response) => response.text(), () => undefined);
    return body?.split('\n').find((line) => line.startsWith(`gradcam_jobs_failed_total{code="${jobInvalidCode}"}`));
  };
  try {
    // Born at 0 before any failure (see PipelineRecorder), which also says the exporter is up.
    assert.equal(await eventually('the exporter to answer', failedTotal, 15_000), `gradcam_jobs_failed_total{code="${jobInvalidCode}"} 0`);
    // QueueEvents reads the stream from '$' once connected: the metrics answer first, so wait a little.
    await new Promise((r) => setTimeout(r, 500));
    await queue.add('explain', { inferenceId: 'bad-1', hand: 'written' }, { jobId: 'bad-1' });
    await eventually('the failure to be counted', async () => ((await failedTotal())?.endsWith(' 1') ? true : undefined), 10_000);
    // And it is still there a moment later: the handler of the failure did not end it.
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(await failedTotal(), `gradcam_jobs_failed_total{code="${jobInvalidCode}"} 1`);
  } finally {
    child.kill('SIGTERM');
    await exited;
    await worker.close();
    await queue.close();
  }
});
