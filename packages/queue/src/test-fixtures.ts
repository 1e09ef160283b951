import { randomUUID } from 'node:crypto';
import type { ExplainJob } from '@gradcam/contracts';

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
