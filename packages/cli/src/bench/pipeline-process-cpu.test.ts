import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { test } from 'node:test';
import { TreeCpuTimeline } from './pipeline-process-cpu.ts';

test('the CPU timeline costs a window chosen afterwards, not the whole run', { skip: process.platform !== 'linux' && '/proc is Linux only' }, async () => {
  const timeline = new TreeCpuTimeline(50);
  // A child that does 0.6 s of CPU work, then idles for 1 s: a warm-up and a drain. The work is
  // counted in its own CPU time, not the clock's, so a loaded machine (a CI run and other tests on
  // 2 cores gave a spinner 0.05 of a core) stretches the busy phase instead of thinning it. It says
  // when each phase begins, so the windows are its own however long its start took.
  const child = spawn(
    process.execPath,
    ['-e', "console.log('busy'); const end = process.cpuUsage().user + 600000; while (process.cpuUsage().user < end); console.log('idle'); setTimeout(() => {}, 1000);"],
    { stdio: ['ignore', 'pipe', 'ignore'] },
  );
  const phases = new Map<string, number>();
  createInterface({ input: child.stdout }).on('line', (line) => phases.set(line, Date.now()));
  await once(child, 'exit');
  timeline.stop();
  const busyAt = phases.get('busy');
  const idleAt = phases.get('idle');
  assert.ok(busyAt !== undefined && idleAt !== undefined, 'the child said when each phase began');
  const busy = timeline.within(busyAt, idleAt);
  const idle = timeline.within(idleAt + 200, idleAt + 900);
  assert.ok(busy && idle, 'samples inside both windows');
  assert.ok(busy.from >= busyAt && busy.to <= idleAt, 'the span lies inside the window asked for');
  // The busy window holds most of the 0.6 s of work (its samples start and end up to a sampling
  // interval inside the phase); the idle one next to none, however long either took.
  const cpu = (span: typeof busy) => span.usage.descendantCpuSeconds;
  assert.ok(cpu(busy) > 0.3, `busy window: ${cpu(busy).toFixed(2)} CPU seconds of the child's 0.6`);
  assert.ok(cpu(idle) < 0.05, `idle window: ${cpu(idle).toFixed(2)} CPU seconds, busy ${cpu(busy).toFixed(2)}`);
  assert.equal(timeline.within(idleAt + 5000, idleAt + 6000), undefined);
});
