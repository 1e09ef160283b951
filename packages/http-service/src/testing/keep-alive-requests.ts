import assert from 'node:assert/strict';
import { Agent, type IncomingHttpHeaders, type OutgoingHttpHeaders, request as httpRequest } from 'node:http';
import type { FastifyInstance } from 'fastify';

export interface Answer {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
  /** Whether the request went on a connection an earlier request had used. */
  readonly reused: boolean;
}

export interface RequestOptions {
  readonly headers?: OutgoingHttpHeaders;
  /** Makes it a POST of `{}` and writes that body only when `send` calls `finish`, headers out first. */
  readonly send?: (finish: () => void) => void;
}

/** One request through `agent`, read to its end. */
export function requestThrough(agent: Agent, url: string, { headers = {}, send }: RequestOptions = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const options = send
      ? { agent, method: 'POST', headers: { ...headers, 'content-type': 'application/json', 'content-length': '2' } }
      : { agent, headers };
    const req = httpRequest(url, options, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body, reused: req.reusedSocket }));
    });
    req.on('error', reject);
    if (send) {
      req.flushHeaders();
      send(() => req.end('{}'));
    } else {
      req.end();
    }
  });
}

/**
 * What a client on a kept-alive connection gets from a process that has begun to shut down: `app`
 * listens on a free port, answers `path` once on one connection, then app.close() begins and is
 * held in a preClose hook (Node closes idle connections only after those) while `path` is asked
 * again on the same connection. The app is closed when this returns.
 */
export async function answersAroundClose(app: FastifyInstance, path: string, headers: OutgoingHttpHeaders = {}): Promise<{ before: Answer; closing: Answer }> {
  let paused = () => {};
  const inPreClose = new Promise<void>((resolve) => (paused = resolve));
  let resume = () => {};
  const resumed = new Promise<void>((resolve) => (resume = resolve));
  app.addHook('preClose', async () => {
    paused();
    await resumed;
  });
  const base = await app.listen({ port: 0, host: '127.0.0.1' });
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  try {
    const before = await requestThrough(agent, `${base}${path}`, { headers });
    const closed = app.close();
    await inPreClose;
    const closing = await requestThrough(agent, `${base}${path}`, { headers });
    resume();
    await closed;
    return { before, closing };
  } finally {
    resume();
    agent.destroy();
  }
}

/** What every service answers a request that reaches it on a kept-alive connection while it closes. */
export function assertShuttingDownAnswer(answer: Answer): void {
  assert.equal(answer.reused, true, 'the kept-alive connection');
  assert.equal(answer.status, 503, answer.body);
  assert.deepEqual(JSON.parse(answer.body), {
    error: { code: 'SHUTTING_DOWN', message: 'this process is shutting down; retry on a new connection', retryAfter: 1 },
  });
  assert.equal(answer.headers['retry-after'], '1');
  assert.equal(answer.headers.connection, 'close', "the client's next request goes to another process");
  assert.equal(answer.headers['x-content-type-options'], 'nosniff');
}
