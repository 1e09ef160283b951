import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { threadCpuSeconds } from './thread-cpu.ts';

test('counts the time this thread computes, not the time it waits', { skip: process.platform !== 'linux' && 'per-thread CPU is read from Linux /proc' }, async () => {
  const start = threadCpuSeconds();
  assert.ok(start !== undefined && start > 0);
  const until = performance.now() + 60;
  while (performance.now() < until);
  const busy = (threadCpuSeconds() as number) - start;
  await sleep(60);
  const idle = (threadCpuSeconds() as number) - start - busy;
  assert.ok(busy >= 0.04, `60 ms of busy loop counted ${busy} s`);
  assert.ok(idle < 0.02, `60 ms asleep counted ${idle} s`);
});
