import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { test } from 'node:test';
import { TreeCpuTimeline } from './pipeline-process-cpu.ts';

test('the CPU timeline costs a window chosen afterwards, not the whole run', { skip: process.platform !== 'linux' && '/proc is Linux only' }, async () => {
  const timeline = new TreeCpuTimeline(50);
  // A child that keeps a core busy for 1 s, then idles for 1 s: a warm-up and a drain. It says
  // when each phase begins, so the windows are its own however long its start took.
  const child = spawn(
    process.execPath,
    ['-e', "console.log('busy'); const end = Date.now() + 1000; while (Date.now() < end); console.log('idle'); setTimeout(() => {}, 1000);"],
    { stdio: ['ignore', 'pipe', 'ignore'] },
  );
  const phases = new Map<string, number>();
  createInterface({ input: child.stdout }).on('line', (line) => phases.set(line, Date.now()));
  await once(child, 'exit');
  timeline.stop();
  const busyAt = phases.get('busy');
  const idleAt = phases.get('idle');
  assert.ok(busyAt !== undefined && idleAt !== undefined, 'the child said when each phase began');
  const busy = timeline.within(busyAt + 100, idleAt - 100);
  const idle = timeline.within(idleAt + 200, idleAt + 900);
  assert.ok(busy && idle, 'samples inside both windows');
  assert.ok(busy.from >= busyAt + 100 && busy.to <= idleAt - 100, 'the span lies inside the window asked for');
  const cores = (span: typeof busy) => span.usage.descendantCpuSeconds / span.usage.seconds;
  // A spinning child gets a whole core on an idle machine but far less on a loaded one (0.14 seen
  // while a CI run and other tests shared 2 cores), and an idle one gets none: the gap is checked.
  assert.ok(cores(busy) > 0.05, `busy window: ${cores(busy).toFixed(2)} cores`);
  assert.ok(cores(idle) < 0.1 && cores(idle) < cores(busy) / 3, `idle window: ${cores(idle).toFixed(2)} cores, busy ${cores(busy).toFixed(2)}`);
  assert.equal(timeline.within(idleAt + 5000, idleAt + 6000), undefined);
});
