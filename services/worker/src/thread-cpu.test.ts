import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { threadCpuSeconds } from './thread-cpu.ts';

test('counts the time this thread computes, not the time it waits', { skip: process.platform !== 'linux' && 'per-thread CPU is read from Linux /proc' }, async () => {
  const start = threadCpuSeconds();
  assert.ok(start !== undefined && start > 0);
  // Spin until 50 ms of CPU are counted (on a loaded machine that takes longer than 50 ms of
  // wall time), within a generous deadline: a clock that never advanced would fail here.
  const deadline = performance.now() + 10_000;
  let busy = 0;
  while (busy < 0.05 && performance.now() < deadline) busy = (threadCpuSeconds() as number) - start;
  assert.ok(busy >= 0.05, `spinning for 10 s counted only ${busy} s`);
  // Asleep, the thread may still run a little (a garbage collection of the spin's strings, the
  // test runner): 49 ms of 100 once on Node 24. A counter of wall time would count the whole sleep;
  // this one counts such work only, which does not grow with the sleep.
  const beforeSleep = threadCpuSeconds() as number;
  await sleep(500);
  const idle = (threadCpuSeconds() as number) - beforeSleep;
  assert.ok(idle < 0.1, `500 ms asleep counted ${idle} s`);
});
