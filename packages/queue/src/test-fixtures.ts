import { randomUUID } from 'node:crypto';
import { after, before } from 'node:test';
import type { ExplainJob } from '@gradcam/contracts';
import { type RedisServer, startRedisServer } from '@gradcam/dev-services';
import type { Redis } from 'ioredis';
import { closeConnection, connectionReady, createProducerConnection } from './connections.ts';
import { explainJob } from './job-catalog.ts';

/** Test-only helpers for tests on the queue (`@gradcam/queue/test-fixtures`; not exported from index). */

export function explainJobFixture(inferenceId: string): ExplainJob {
  const folder = `mobilenet/v1/dt=2025-01-01/${inferenceId}/`;
  return {
    inferenceId,
    model: { name: 'mobilenet', version: 'v1' },
    folder,
    image: { key: `${folder}input.jpg` },
    explain: {},
    acceptedAt: Date.now(),
    capture: { explain: true, reason: 'all', policy: 'all' },
  };
}

/**
 * A redis-server of the test file's own, started before its tests with one producer connection to
 * it (ready), both stopped after them: `ready` is handed the connection and the server's URL.
 */
export function useRedisConnection(ready: (connection: Redis, url: string) => void): void {
  let server: RedisServer | undefined;
  let connection: Redis | undefined;
  before(async () => {
    server = await startRedisServer();
    connection = createProducerConnection(server.url, { onError: () => {} });
    await connectionReady(connection);
    ready(connection, server.url);
  });
  after(async () => {
    if (connection) await closeConnection(connection);
    await server?.stop();
  });
}

/** A fresh BullMQ key prefix, so tests sharing one Redis never see each other's jobs. */
export function randomPrefix(): string {
  return `test-${randomUUID().slice(0, 8)}`;
}

/** A promise that resolves after `tick()` was called `target` times (one tick per event). */
export function countdown(target: number): { readonly done: Promise<void>; tick(): void; readonly count: number } {
  let count = 0;
  let resolve!: () => void;
  const done = new Promise<void>((r) => (resolve = r));
  if (target <= 0) resolve();
  return {
    done,
    tick() {
      count++;
      if (count >= target) resolve();
    },
    get count() {
      return count;
    },
  };
}

/** Polls until `predicate` holds (a hang guard lives in the test's own timeout, not here). */
export async function eventually(predicate: () => Promise<boolean> | boolean, pollMs = 20): Promise<void> {
  while (!(await predicate())) await new Promise((resolve) => setTimeout(resolve, pollMs));
}

/** A failed explain job as seedFailedJobs writes it. */
export interface SeededFailure {
  readonly id: string;
  /** `CODE: message`, as the worker writes failedReason. */
  readonly reason: string;
  readonly failedAt: number;
  readonly attemptsMade?: number;
  readonly maxAttempts?: number;
}

/**
 * Writes failed jobs as BullMQ leaves them (the job's hash, an entry in the failed set scored by
 * when it failed), a thousand per round trip: for tests that need many, or failures in the past.
 */
export async function seedFailedJobs(connection: Redis, prefix: string, failures: readonly SeededFailure[]): Promise<void> {
  const key = (suffix: string) => `${prefix}:${explainJob.queueName}:${suffix}`;
  for (let start = 0; start < failures.length; start += 1_000) {
    const pipeline = connection.pipeline();
    for (const failure of failures.slice(start, start + 1_000)) {
      const opts = JSON.stringify({ attempts: failure.maxAttempts ?? 5, jobId: failure.id });
      pipeline.hset(key(failure.id), 'name', explainJob.jobName, 'data', JSON.stringify(explainJobFixture(failure.id)), 'opts', opts, 'timestamp', String(failure.failedAt));
      pipeline.hset(key(failure.id), 'failedReason', failure.reason, 'atm', String(failure.attemptsMade ?? 5), 'finishedOn', String(failure.failedAt));
      pipeline.zadd(key('failed'), failure.failedAt, failure.id);
    }
    await pipeline.exec();
  }
}
