import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { type ServiceProcess, startService, waitUntilReady } from '@gradcam/cli/local-stack';
import { redisKeys } from '@gradcam/contracts';
import { type TestRedis, freePort, startTestRedis } from '@gradcam/dev-services';
import { Redis } from 'ioredis';
import { childPids, leashedNodePid } from '../support/child-pids.ts';
import { inlineRecord, samplePhotos } from '../support/sample-records.ts';
import { waitFor } from '../support/wait-for.ts';

// Ingest with GRADCAM_INGEST_PROCESSES=2: cluster workers share one port, a scrape of any of
// them reports the whole cluster, a killed process is replaced, and SIGTERM stops them all.
const token = 'cluster-token-0123456789abcdef';
const prefix = 'cluster';

let redis: TestRedis;
let dir: string;
let ingest: ServiceProcess | undefined;
let baseUrl: string;
/** The service's last output lines, for the failure message. */
const output: string[] = [];

/** One request on its own connection, so the cluster's round robin spreads them over the processes. */
function post(path: string, body: unknown): Promise<number> {
  return new Promise((resolve, reject) => {
    const payload = JSON.stringify(body);
    const req = request(`${baseUrl}${path}`, { method: 'POST', agent: false, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.setTimeout(10_000, () => req.destroy(new Error(`POST ${path} had no answer within 10 s`)));
    req.end(payload);
  });
}

async function acceptedCount(): Promise<number> {
  const text = await (await fetch(`${baseUrl}/metrics`, { headers: { connection: 'close' } })).text();
  const line = text.split('\n').find((l) => l.startsWith('gradcam_ingest_records_total{outcome="accepted"}'));
  return Number(line?.split(' ')[1] ?? 0);
}

/** The primary's cluster workers (not other helpers it may have started), from the service's leash. */
const ingestProcesses = (leash: number) => {
  const primary = leashedNodePid(leash);
  return primary === undefined ? [] : childPids(primary, 'services/ingest/src/main.ts');
};

before(async () => {
  redis = await startTestRedis();
  dir = await mkdtemp(join(tmpdir(), 'gradcam-cluster-'));
  const client = new Redis(redis.url);
  await client.hset(redisKeys(prefix).servedModels, 'nsfw-mobilenet-v2', 'nsfwjs-4.4.0');
  client.disconnect();
  const port = await freePort();
  baseUrl = `http://127.0.0.1:${port}`;
  ingest = startService({
    name: 'ingest',
    entry: 'services/ingest/src/main.ts',
    env: { ...process.env, REDIS_URL: redis.url, GRADCAM_STORAGE_DIR: join(dir, 'storage'), GRADCAM_API_TOKENS: token, GRADCAM_QUEUE_PREFIX: prefix, GRADCAM_INGEST_PORT: String(port), GRADCAM_HOST: '127.0.0.1', GRADCAM_INGEST_PROCESSES: '2', LOG_LEVEL: 'info' },
    onLine: (line) => output.push(line) > 40 && output.shift(),
  });
  await waitUntilReady(ingest, `${baseUrl}/readyz`, 60_000);
  await waitFor('two ingest processes', async () => (ingestProcesses(ingest?.child.pid ?? 0).length === 2 ? true : undefined), 30_000).catch((error: unknown) => {
    throw new Error(`${(error as Error).message}; ingest (pid ${ingest?.child.pid}) has children ${ingestProcesses(ingest?.child.pid ?? 0).join(', ') || 'none'}:\n${output.join('\n')}`);
  });
});

after(async () => {
  await ingest?.stop('SIGKILL');
  await redis?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

test('a scrape of any process counts the records every process accepted', { timeout: 60_000 }, async () => {
  const photo = samplePhotos[0] as (typeof samplePhotos)[number];
  const statuses = await Promise.all(Array.from({ length: 20 }, (_, i) => post('/v1/inferences', inlineRecord(`c-${i}`, photo))));
  assert.deepEqual(new Set(statuses), new Set([202]));
  // Each scrape lands on one process or the other; each must report all 20 (not its own ~10).
  for (let scrape = 0; scrape < 4; scrape++) assert.equal(await acceptedCount(), 20);
});

test('a killed ingest process is replaced while the other keeps serving; SIGTERM stops them all', { timeout: 60_000 }, async () => {
  const service = ingest as ServiceProcess;
  const [victim, survivor] = ingestProcesses(service.child.pid ?? 0);
  process.kill(victim as number, 'SIGKILL');
  // Once the primary has reaped it (and before the restart delay is over) the survivor serves
  // alone. A connection handed to a process in the instant it dies is lost: node:cluster's
  // limit, which clients' retries cover.
  await waitFor('the primary reaping the killed process', async () => (ingestProcesses(service.child.pid ?? 0).includes(victim as number) ? undefined : true), 10_000, 10);
  const photo = samplePhotos[1] as (typeof samplePhotos)[number];
  for (let i = 0; i < 4; i++) assert.equal(await post('/v1/inferences', inlineRecord(`during-restart-${i}`, photo)), 202);
  const replaced = await waitFor('a replacement process', async () => {
    const pids = ingestProcesses(service.child.pid ?? 0);
    return pids.length === 2 && !pids.includes(victim as number) ? pids : undefined;
  }, 30_000);
  assert.ok(replaced.includes(survivor as number));
  await waitUntilReady(service, `${baseUrl}/readyz`, 30_000);
  // The killed process's counts stay in the sum (it reported them to the primary's scrapes in the
  // first test): a total that fell would read as a counter reset in Prometheus.
  for (let scrape = 0; scrape < 4; scrape++) assert.equal(await acceptedCount(), 24);

  assert.equal(await service.stop('SIGTERM'), 'code 0');
  for (const pid of replaced) assert.throws(() => process.kill(pid, 0), /ESRCH/, `process ${pid} is gone`);
});
