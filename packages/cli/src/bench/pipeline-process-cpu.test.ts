import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { test } from 'node:test';
import { TreeCpuTimeline } from './pipeline-process-cpu.ts';

test('the CPU timeline costs a window chosen afterwards, not the whole run', { skip: process.platform !== 'linux' && '/proc is Linux only' }, async () => {
  const timeline = new TreeCpuTimeline(50);
  // A child that keeps a core busy for 1 s, then idles for 1 s: a warm-up and a drain.
  const child = spawn(process.execPath, ['-e', 'const end = Date.now() + 1000; while (Date.now() < end); setTimeout(() => {}, 1000);'], { stdio: 'ignore' });
  const startedAt = Date.now();
  await once(child, 'spawn');
  await new Promise((resolve) => setTimeout(resolve, 1900));
  timeline.stop();
  const busy = timeline.within(startedAt + 200, startedAt + 800);
  const idle = timeline.within(startedAt + 1300, startedAt + 1900);
  await once(child, 'exit');
  assert.ok(busy && idle, 'samples inside both windows');
  assert.ok(busy.from >= startedAt + 200 && busy.to <= startedAt + 800, 'the span lies inside the window asked for');
  const cores = (span: typeof busy) => span.usage.descendantCpuSeconds / span.usage.seconds;
  // A spinning child gets a whole core on an idle machine but far less on a loaded one (0.39 seen
  // while other tests ran on 2 cores), and an idle one gets none: the gap is what is checked.
  assert.ok(cores(busy) > 0.2, `busy window: ${cores(busy).toFixed(2)} cores`);
  assert.ok(cores(idle) < 0.1, `idle window: ${cores(idle).toFixed(2)} cores`);
  assert.equal(timeline.within(startedAt + 5000, startedAt + 6000), undefined);
});
