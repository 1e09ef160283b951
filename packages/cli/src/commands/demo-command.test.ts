import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { IngestClient } from '../local-stack/ingest-client.ts';
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
