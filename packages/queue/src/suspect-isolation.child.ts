// A worker process for suspect-isolation.test.ts (not a test itself). It runs one batching
// worker and dies by SIGKILL, as an OOM kill or a native crash would, as soon as a batch holds
// the job `poison`. Each batch's job ids go to stdout as one JSON line. SIGTERM closes it cleanly.
// Usage: node --import tsx suspect-isolation.child.ts <redis url> <queue prefix>
import { setTimeout as sleep } from 'node:timers/promises';
import { createBatchingWorker } from './batching-worker.ts';
import { closeConnections, createWorkerConnection } from './connections.ts';
import { explainJob } from './job-catalog.ts';

const [url, prefix] = process.argv.slice(2);
if (url === undefined || prefix === undefined) throw new Error('usage: suspect-isolation.child.ts <redis url> <queue prefix>');

const connection = createWorkerConnection(url, { onError: () => {} });
const worker = createBatchingWorker({
  job: explainJob,
  connection,
  prefix,
  maxBatch: 4,
  maxWaitMs: 20,
  // Short locks and stalled checks, so a crashed worker's jobs are taken over within ~2 s.
  lockDuration: 1_000,
  stalledInterval: 500,
  onError: () => {},
  processBatch: async (jobs) => {
    process.stdout.write(`${JSON.stringify(jobs.map((job) => job.id))}\n`);
    if (jobs.some((job) => job.id === 'poison')) process.kill(process.pid, 'SIGKILL');
    await sleep(50);
    return jobs.map((job) => ({ manifestKey: `${job.data.folder}explanation.json` }));
  },
});
process.once('SIGTERM', () => {
  void (async () => {
    await worker.close();
    await closeConnections(connection);
    process.exit(0);
  })();
});
await worker.waitUntilReady();
