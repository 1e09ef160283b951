import assert from 'node:assert/strict';
import { type ChildProcess, fork } from 'node:child_process';
import { readFile } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ProcessSupervisor } from './process-supervisor.ts';
import { until } from './test-support/until.ts';
import { linesLog, silentLog } from './test-support/lines-log.ts';

const announce = fileURLToPath(new URL('./announce-ready.ts', import.meta.url));

/**
 * A child that announces it is ready, idles 200 ms, then runs `thenSync` (synchronous code that
 * holds its event loop) and idles until SIGTERM.
 */
function spawnReadyThen(thenSync: string): ChildProcess {
  const source = `
    process.on('SIGTERM', () => process.exit(0));
    setInterval(() => {}, 1000);
    import(${JSON.stringify(announce)}).then((module) => {
      module.announceReady();
      setTimeout(() => { ${thenSync} }, 200);
    });
  `;
  return fork('-e', [source], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
}

/** Blocks the event loop for `ms`, `times` times, with 300 ms of free loop in between, then says 'done'. */
const busyFor = (ms: number, times: number) => `
  let left = ${times};
  const spin = () => {
    const end = Date.now() + ${ms};
    while (Date.now() < end) {}
    if (--left > 0) setTimeout(spin, 300);
    else process.send('done');
  };
  spin();`;

const heartbeatTimeoutMs = 4_000;

test('watchdog: a ready child whose event loop is blocked for ever is SIGKILLed once silent for heartbeatTimeoutMs, and restarted as after a crash, not a start-up crash', { timeout: 30_000 }, async () => {
  const logs: string[] = [];
  const children: ChildProcess[] = [];
  const restarts: unknown[] = [];
  const supervisor = new ProcessSupervisor({
    processes: 1,
    label: 'test process',
    log: linesLog((m) => logs.push(m)),
    restartDelayMs: 20,
    announcesReady: true,
    heartbeatTimeoutMs,
    onRestart: (...args) => restarts.push(args),
    spawn: () => {
      // The first one hangs as a native op spinning would; its replacement is healthy.
      const child = spawnReadyThen(children.length === 0 ? 'while (true) {}' : '');
      children.push(child);
      return child;
    },
  });
  try {
    supervisor.start();
    await until('the first child to be ready', () => supervisor.readiness().ready === 1, 10_000);
    const ready = Date.now();
    await until('the hung child to be killed', () => children[0]?.signalCode !== null, heartbeatTimeoutMs + 10_000);
    const killedAfter = Date.now() - ready;
    assert.equal(children[0]?.signalCode, 'SIGKILL');
    // Its heartbeats stopped 200 ms after it was ready, before the first was due.
    assert.ok(killedAfter >= heartbeatTimeoutMs - 100 && killedAfter < heartbeatTimeoutMs + 3_000, `killed ${killedAfter} ms after it was ready`);
    assert.deepEqual(logs.slice(0, 2), [
      `test process 0 sent no heartbeat for ${heartbeatTimeoutMs} ms: its event loop is blocked (a synchronous call that does not return?); SIGKILL`,
      // Backed off (twice the base delay) as any crash this soon after ready, though the child had
      // been ready: not a start-up crash, so it never leads to giving up.
      'test process 0 exited (SIGKILL); restarting in 40 ms',
    ]);
    // The watchdog's own SIGKILL: unresponsive, not crashed.
    assert.deepEqual(restarts, [[0, 'unresponsive', { code: null, signal: 'SIGKILL' }]]);
    await until('the replacement to be ready', () => children.length === 2 && supervisor.readiness().ready === 1, 10_000);
  } finally {
    await supervisor.stop();
  }
});

test('watchdog: a ready child busy for less than heartbeatTimeoutMs at a time (a long synchronous op that returns) is left alone', { timeout: 30_000 }, async () => {
  const logs: string[] = [];
  let child: ChildProcess | undefined;
  const supervisor = new ProcessSupervisor({
    processes: 1,
    label: 'test process',
    log: linesLog((m) => logs.push(m)),
    announcesReady: true,
    heartbeatTimeoutMs,
    // 1.5 s blocked, 3 times: up to 2.5 s between two heartbeats, well under the limit.
    spawn: () => (child = spawnReadyThen(busyFor(1_500, 3))),
  });
  try {
    supervisor.start();
    let done = false;
    await until('the child to start', () => child !== undefined, 1_000);
    child?.on('message', (message) => (done ||= message === 'done'));
    await until('the child to finish its busy spells', () => done, 20_000);
    // Past the limit since the last spell began: a watchdog that misread it would have fired.
    await new Promise((r) => setTimeout(r, heartbeatTimeoutMs));
    assert.equal(child?.exitCode, null);
    assert.equal(child?.signalCode, null);
    assert.deepEqual(logs, []);
    assert.equal(supervisor.readiness().ready, 1);
  } finally {
    await supervisor.stop();
  }
});

test('watchdog: heartbeats that came while the supervisor\'s own event loop was blocked past the limit are read before it judges: healthy children are left alone', { timeout: 30_000 }, async () => {
  const logs: string[] = [];
  const children: ChildProcess[] = [];
  const supervisor = new ProcessSupervisor({
    processes: 2,
    label: 'test process',
    log: linesLog((m) => logs.push(m)),
    announcesReady: true,
    heartbeatTimeoutMs: 3_000,
    spawn: () => {
      const child = spawnReadyThen('');
      children.push(child);
      return child;
    },
  });
  try {
    supervisor.start();
    await until('both children to be ready', () => supervisor.readiness().ready === 2, 10_000);
    await new Promise((r) => setTimeout(r, 1_500));
    // The supervising process busy 4.5 s in an I/O callback (a paused container would do the
    // same): the children keep beating, their heartbeats wait in the IPC pipes, and the watchdogs'
    // deadlines pass meanwhile.
    await new Promise<void>((resolve) =>
      readFile(fileURLToPath(import.meta.url), () => {
        const end = Date.now() + 4_500;
        while (Date.now() < end);
        resolve();
      }),
    );
    await new Promise((r) => setTimeout(r, 1_500));
    assert.deepEqual(logs, []);
    assert.deepEqual(
      children.map((child) => child.signalCode),
      [null, null],
    );
    assert.equal(supervisor.readiness().ready, 2);
  } finally {
    await supervisor.stop();
  }
});

test('watchdog: a limit under 3 heartbeats is refused, so one late beat cannot kill a healthy child; one past a Node timer\'s limit too (it would fire after 1 ms, in a loop)', () => {
  const options = { processes: 1, label: 'test process', log: silentLog, spawn: () => spawnReadyThen('') };
  assert.throws(() => new ProcessSupervisor({ ...options, heartbeatTimeoutMs: 2_999 }), /heartbeatTimeoutMs must be at least 3000 ms/);
  assert.doesNotThrow(() => new ProcessSupervisor({ ...options, heartbeatTimeoutMs: 3_000 }));
  assert.throws(() => new ProcessSupervisor({ ...options, heartbeatTimeoutMs: 2 ** 31 }), /heartbeatTimeoutMs must be at most 2147483647 ms/);
  assert.doesNotThrow(() => new ProcessSupervisor({ ...options, heartbeatTimeoutMs: 2 ** 31 - 1 }));
});
