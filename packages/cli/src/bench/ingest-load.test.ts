import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { meetsIngestTarget } from './ingest-capacity.ts';
import { runIngestLoad } from './ingest-load.ts';

/**
 * An HTTP server that answers the batch endpoint one request at a time, `serviceMs` each: a
 * service of known capacity, so what the load generator reports can be checked against it.
 */
async function serialServer(serviceMs: number): Promise<{ url: string; close: () => Promise<void> }> {
  let free = 0;
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const records = (JSON.parse(Buffer.concat(chunks).toString('utf8')) as { records: unknown[] }).records.length;
      free = Math.max(free, performance.now()) + serviceMs;
      setTimeout(() => response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ accepted: records, rejected: 0, results: [] })), free - performance.now());
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

const images = { uris: ['s3://local/bench-inputs/a.jpg'], base64: [] };

test('paced load reports the rate the service answered at, not the rate offered', async () => {
  // 10 records every 10 ms is 1,000 records/s offered; one request per 20 ms is 500 answered.
  const server = await serialServer(20);
  try {
    const result = await runIngestLoad({ url: server.url, token: 't', model: 'm', images, batch: 10, shape: { kind: 'paced', recordsPerSecond: 1000 }, seconds: 1, idPrefix: 'x' });
    assert.equal(result.offered, 1000);
    assert.equal(result.accepted, 1000);
    const rate = result.accepted / result.seconds;
    assert.ok(rate > 400 && rate < 600, `measured ${rate.toFixed(0)} records/s from a service that answers 500/s`);
  } finally {
    await server.close();
  }
});

test('a paced row meets the target when every record offered at the target rate is accepted within the p99', () => {
  const paced = { kind: 'paced', recordsPerSecond: 5000 } as const;
  // Kept up: 50,000 offered over 10 s, the last answer 30 ms after the schedule ended.
  const keptUp = { offered: 50_000, accepted: 50_000, seconds: 10.03 };
  assert.equal(meetsIngestTarget(paced, keptUp, 30), true);
  assert.equal(meetsIngestTarget(paced, keptUp, 50), false);
  assert.equal(meetsIngestTarget(paced, { ...keptUp, accepted: 49_900 }, 30), false);
  assert.equal(meetsIngestTarget({ kind: 'paced', recordsPerSecond: 4000 }, keptUp, 30), false);
  // Closed loop measures capacity: the same figures are 4,985 records/s, under the target.
  assert.equal(meetsIngestTarget({ kind: 'closed', clients: 1 }, keptUp, 30), false);
  assert.equal(meetsIngestTarget({ kind: 'closed', clients: 1 }, { ...keptUp, seconds: 9.9 }, 30), true);
});
