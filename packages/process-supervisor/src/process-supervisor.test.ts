import assert from 'node:assert/strict';
import { type ChildProcess, fork } from 'node:child_process';
import { once } from 'node:events';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ProcessSupervisor } from './process-supervisor.ts';
import { until } from './test-support/until.ts';
import { type LogLevel, linesLog, silentLog } from './test-support/lines-log.ts';

/** A child that reports it started, then either idles until SIGTERM (exiting 0) or crashes. */
const childSource = `
  if (process.argv[2] === 'crash') setTimeout(() => process.exit(3), 20);
  else { process.on('SIGTERM', () => process.exit(0)); setInterval(() => {}, 1000); }
  // Only once the handler is in place: the test signals as soon as it hears from the child.
  process.send({ started: process.argv[1] });
`;

function spawnChild(index: number, mode: (index: number) => 'crash' | 'idle', started: string[]): ChildProcess {
  const child = fork('-e', [childSource, String(index), mode(index)], { execArgv: [], stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  child.on('message', (message) => started.push((message as { started: string }).started));
  return child;
}

test('starts N processes and restarts one that crashes, backing off while it keeps crashing; each restart is a warning', async () => {
  const started: string[] = [];
  const logs: string[] = [];
  const levels = new Map<string, LogLevel>();
  let crashes = 2;
  const supervisor = new ProcessSupervisor({
    processes: 2,
    label: 'test process',
    log: linesLog((m, level) => (logs.push(m), levels.set(m, level))),
    restartDelayMs: 20,
    spawn: (index) => spawnChild(index, (i) => (i === 1 && crashes-- > 0 ? 'crash' : 'idle'), started),
  });
  supervisor.start();
  const deadline = Date.now() + 15_000;
  while (started.filter((s) => s === '1').length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  await supervisor.stop();
  assert.deepEqual(started.filter((s) => s === '0'), ['0'], 'the healthy process ran once');
  assert.equal(started.filter((s) => s === '1').length, 3, 'the crashing process was started again after each crash');
  const restarts = logs.filter((l) => l.startsWith('test process 1 exited (code 3)'));
  assert.equal(restarts.length, 2);
  assert.match(restarts[0] ?? '', /restarting in 40 ms/);
  assert.match(restarts[1] ?? '', /restarting in 80 ms/, 'a quick second crash doubles the delay');
  assert.deepEqual(restarts.map((l) => levels.get(l)), ['warn', 'warn'], 'an operator watching warn and above sees each crash');
});

/** A child that announces it is ready (announceReady) at once, or crashes before it does; idles until SIGTERM otherwise. */
const announce = fileURLToPath(new URL('./announce-ready.ts', import.meta.url));

/**
 * A child that crashes before it announces it is ready, or announces it (then crashes 20 ms later,
 * or 600 ms later with crash-later, or idles until SIGTERM).
 */
function spawnAnnouncing(mode: 'crash' | 'crash-78' | 'crash-when-ready' | 'crash-later' | 'idle'): ChildProcess {
  const source = `
    const mode = process.argv[1];
    if (mode === 'crash') process.exit(1);
    if (mode === 'crash-78') process.exit(78);
    process.on('SIGTERM', () => process.exit(0));
    setInterval(() => {}, 1000);
    import(${JSON.stringify(announce)}).then((module) => {
      module.announceReady();
      if (mode === 'crash-when-ready') setTimeout(() => process.exit(3), 20);
      if (mode === 'crash-later') setTimeout(() => process.exit(4), 600);
    });
  `;
  return fork('-e', [source, mode], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
}

test('announcesReady: a slot whose processes keep exiting before they are ready backs off, then the supervisor gives up (an error) and stops the others', { timeout: 30_000 }, async () => {
  const logs: string[] = [];
  const levels: LogLevel[] = [];
  const children: ChildProcess[] = [];
  const restarts: unknown[] = [];
  const supervisor = new ProcessSupervisor({
    processes: 2,
    label: 'test process',
    log: linesLog((m, level) => (logs.push(m), levels.push(level))),
    restartDelayMs: 20,
    announcesReady: true,
    onRestart: (...args) => restarts.push(args),
    spawn: (index) => {
      const child = spawnAnnouncing(index === 1 ? 'crash' : 'idle');
      children.push(child);
      return child;
    },
  });
  try {
    supervisor.start();
    const deadline = Date.now() + 20_000;
    while (!logs.some((l) => l.includes('giving up')) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(logs.slice(0, 4), [40, 80, 160, 320].map((ms) => `test process 1 exited (code 1); restarting in ${ms} ms`));
    assert.equal(logs[4], 'test process 1 exited before it was ready 5 times in a row (last: code 1); giving up: stopping the other processes');
    assert.deepEqual(levels.slice(0, 5), ['warn', 'warn', 'warn', 'warn', 'error']);
    const healthy = children[0] as ChildProcess;
    if (healthy.exitCode === null) await once(healthy, 'exit');
    assert.equal(healthy.exitCode, 0, 'the healthy process was stopped with SIGTERM and drained');
    assert.equal(supervisor.readiness().stopping, true);
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(children.length, 6, 'nothing was started after it gave up');
    // The 5th exit was not restarted, and the healthy process's stop is no restart either.
    assert.deepEqual(restarts, Array.from({ length: 4 }, () => [1, 'crashed', { code: 1, signal: null }]));
  } finally {
    await supervisor.stop();
  }
});

test('givesUpOnStartupExitCode: a process exiting with that code before it is ready ends the supervision at once; any other start-up crash is retried', { timeout: 30_000 }, async () => {
  const logs: string[] = [];
  const children: ChildProcess[] = [];
  let starts = 0;
  const supervisor = new ProcessSupervisor({
    processes: 2,
    label: 'test process',
    log: linesLog((m) => logs.push(m)),
    restartDelayMs: 20,
    announcesReady: true,
    givesUpOnStartupExitCode: 78,
    // Slot 1: an ordinary start-up crash first (retried), then the hopeless one.
    spawn: (index) => {
      const child = spawnAnnouncing(index === 0 ? 'idle' : ++starts === 1 ? 'crash' : 'crash-78');
      children.push(child);
      return child;
    },
  });
  try {
    supervisor.start();
    await until('the supervisor to give up', () => logs.some((l) => l.includes('giving up')), 20_000);
    assert.deepEqual(logs, [
      'test process 1 exited (code 1); restarting in 40 ms',
      'test process 1 exited before it was ready (code 78: a failure every start would repeat); giving up: stopping the other processes',
    ]);
    const healthy = children[0] as ChildProcess;
    if (healthy.exitCode === null) await once(healthy, 'exit');
    assert.equal(healthy.exitCode, 0, 'the healthy process was stopped with SIGTERM and drained');
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(children.length, 3, 'nothing was started after it gave up');
  } finally {
    await supervisor.stop();
  }
});

test('announcesReady: a process that crashes soon after it is ready is backed off from too, on and on through start-up crashes, and a slot once ready never gives up', { timeout: 30_000 }, async () => {
  const logs: string[] = [];
  let starts = 0;
  const supervisor = new ProcessSupervisor({
    processes: 1,
    label: 'test process',
    log: linesLog((m) => logs.push(m)),
    restartDelayMs: 5,
    announcesReady: true,
    // Ready then crashes, twice (a poison job on the first batch); then 6 start-up crashes; then runs.
    spawn: () => spawnAnnouncing(++starts <= 2 ? 'crash-when-ready' : starts <= 8 ? 'crash' : 'idle'),
  });
  try {
    supervisor.start();
    const deadline = Date.now() + 25_000;
    while (supervisor.readiness().ready === 0 || starts < 9) {
      assert.ok(Date.now() < deadline, `timed out: ${logs.join(' | ')}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.deepEqual(logs, [
      ...[10, 20].map((ms) => `test process 0 exited (code 3); restarting in ${ms} ms`),
      ...[40, 80, 160, 320, 640, 1280].map((ms) => `test process 0 exited (code 1); restarting in ${ms} ms`),
    ]);
  } finally {
    await supervisor.stop();
  }
});

test('stableAfterMs: a process that crashes after staying up that long since it was ready restarts at the base delay again', { timeout: 30_000 }, async () => {
  const logs: string[] = [];
  let starts = 0;
  const supervisor = new ProcessSupervisor({
    processes: 1,
    label: 'test process',
    log: linesLog((m) => logs.push(m)),
    restartDelayMs: 20,
    announcesReady: true,
    stableAfterMs: 300,
    // Crashes 20 ms after ready (backed off), twice; then 600 ms after ready (stable: base delay);
    // then 20 ms after ready (backed off from the base again); then runs.
    spawn: () => spawnAnnouncing((['crash-when-ready', 'crash-when-ready', 'crash-later', 'crash-when-ready'] as const)[starts++] ?? 'idle'),
  });
  try {
    supervisor.start();
    await until('the fifth process to be ready', () => starts === 5 && supervisor.readiness().ready === 1, 20_000);
    assert.deepEqual(logs, [
      'test process 0 exited (code 3); restarting in 40 ms',
      'test process 0 exited (code 3); restarting in 80 ms',
      'test process 0 exited (code 4); restarting in 20 ms',
      'test process 0 exited (code 3); restarting in 40 ms',
    ]);
  } finally {
    await supervisor.stop();
  }
});

test('a process that cannot be started (spawn fails with no exit event, or spawn() throws) is a start-up crash: restarted with back-off', { timeout: 30_000 }, async () => {
  const logs: string[] = [];
  const restarts: unknown[] = [];
  let starts = 0;
  const supervisor = new ProcessSupervisor({
    processes: 2,
    label: 'test process',
    log: linesLog((m) => logs.push(m)),
    restartDelayMs: 20,
    announcesReady: true,
    onRestart: (...args) => restarts.push(args),
    // Slot 1: ENOENT ('error', never 'exit', as EAGAIN under a pid limit), then a spawn() that
    // throws (as ENOMEM does), then a process that starts.
    spawn: (index) => {
      if (index === 0) return spawnAnnouncing('idle');
      starts++;
      if (starts === 1) return fork('-e', ['1'], { execPath: '/nonexistent/node', stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
      if (starts === 2) throw new Error('spawn ENOMEM');
      return spawnAnnouncing('idle');
    },
  });
  try {
    supervisor.start();
    await until('both processes ready', () => supervisor.readiness().ready === 2, 15_000);
    assert.deepEqual(logs, ['test process 1 did not start (spawn /nonexistent/node ENOENT); restarting in 40 ms', 'test process 1 did not start (spawn ENOMEM); restarting in 80 ms']);
    assert.deepEqual(restarts, [
      [1, 'crashed', { code: null, signal: null }],
      [1, 'crashed', { code: null, signal: null }],
    ]);
  } finally {
    await supervisor.stop();
  }
});

test('announcesReady: a slot whose spawn always fails gives up like any start-up crash loop', { timeout: 30_000 }, async () => {
  const logs: string[] = [];
  let gaveUp = false;
  const supervisor = new ProcessSupervisor({
    processes: 1,
    label: 'test process',
    log: linesLog((m) => (logs.push(m), (gaveUp ||= m.includes('giving up')))),
    restartDelayMs: 1,
    announcesReady: true,
    spawn: () => fork('-e', ['1'], { execPath: '/nonexistent/node', stdio: ['ignore', 'ignore', 'inherit', 'ipc'] }),
  });
  supervisor.start();
  await until('the supervisor to give up', () => gaveUp);
  assert.equal(logs.length, 5);
  assert.equal(logs[4], 'test process 0 exited before it was ready 5 times in a row (last: spawn /nonexistent/node ENOENT); giving up: stopping the other processes');
  assert.deepEqual(await supervisor.stop(), { clean: true });
});

test('an error on a process that did start (a kill() or send() that failed) is only logged: its exit alone restarts it, once', { timeout: 30_000 }, async () => {
  const logs: string[] = [];
  const children: ChildProcess[] = [];
  const supervisor = new ProcessSupervisor({
    processes: 1,
    label: 'test process',
    log: linesLog((m) => logs.push(m)),
    restartDelayMs: 20,
    announcesReady: true,
    spawn: () => {
      const child = spawnAnnouncing('idle');
      children.push(child);
      return child;
    },
  });
  try {
    supervisor.start();
    await until('the process to be ready', () => supervisor.readiness().ready === 1);
    children[0]?.emit('error', new Error('kill EPERM'));
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(logs, ['test process 0: kill EPERM']);
    assert.equal(children.length, 1, 'not restarted: it is still running');
    assert.equal(supervisor.readiness().ready, 1);
    children[0]?.kill('SIGKILL');
    await until('its replacement to be ready', () => children.length === 2 && supervisor.readiness().ready === 1);
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(logs, ['test process 0: kill EPERM', 'test process 0 exited (SIGKILL); restarting in 40 ms']);
    assert.equal(children.length, 2);
  } finally {
    await supervisor.stop();
  }
});

test('onRestart: a process that exits by itself, or dies of a signal someone else sent, is restarted as crashed; nothing is reported for stop()', { timeout: 30_000 }, async () => {
  const restarts: unknown[] = [];
  const children: ChildProcess[] = [];
  const supervisor = new ProcessSupervisor({
    processes: 1,
    label: 'test process',
    log: silentLog,
    restartDelayMs: 20,
    announcesReady: true,
    onRestart: (...args) => restarts.push(args),
    // Ready, then exits 3 by itself; then ready and idle (killed by the test); then idle.
    spawn: () => {
      const child = spawnAnnouncing(children.length === 0 ? 'crash-when-ready' : 'idle');
      children.push(child);
      return child;
    },
  });
  try {
    supervisor.start();
    await until('the second process to be ready', () => children.length === 2 && supervisor.readiness().ready === 1);
    assert.deepEqual(restarts, [[0, 'crashed', { code: 3, signal: null }]]);
    // As the kernel's OOM killer would: a SIGKILL the supervisor did not send is a crash.
    children[1]?.kill('SIGKILL');
    await until('the third process to be ready', () => children.length === 3 && supervisor.readiness().ready === 1);
    assert.deepEqual(restarts[1], [0, 'crashed', { code: null, signal: 'SIGKILL' }]);
  } finally {
    await supervisor.stop();
  }
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(restarts.length, 2, 'the exit stop() asked for is no restart');
});

test('stop() forwards the signal and resolves once every child has exited; nothing is restarted', async () => {
  const children: ChildProcess[] = [];
  const started: string[] = [];
  const supervisor = new ProcessSupervisor({
    processes: 3,
    label: 'test process',
    log: silentLog,
    spawn: (index) => {
      const child = spawnChild(index, () => 'idle', started);
      children.push(child);
      return child;
    },
  });
  supervisor.start();
  await Promise.all(children.map((child) => once(child, 'message')));
  assert.deepEqual(await supervisor.stop(), { clean: true });
  assert.deepEqual(children.map((child) => child.exitCode), [0, 0, 0], 'each child exited on SIGTERM by itself');
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(children.length, 3, 'no child was started after stop()');
});

test('stop() kills with SIGKILL a child still running killAfterMs after its signal', async () => {
  const logs: string[] = [];
  let child: ChildProcess | undefined;
  const supervisor = new ProcessSupervisor({
    processes: 1,
    label: 'stuck process',
    log: linesLog((m) => logs.push(m)),
    killAfterMs: 300,
    spawn: () => {
      // Ignores SIGTERM, as a worker whose shutdown waits on a Redis that is down.
      child = fork('-e', [`process.on('SIGTERM', () => {}); setInterval(() => {}, 1000); process.send('up');`], { execArgv: [], stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
      return child;
    },
  });
  supervisor.start();
  await once(child as ChildProcess, 'message');
  const started = Date.now();
  assert.deepEqual(await supervisor.stop(), { clean: false }, 'a child that needed SIGKILL did not drain');
  assert.equal(child?.signalCode, 'SIGKILL');
  assert.ok(Date.now() - started >= 300, 'it had its grace period first');
  assert.deepEqual(logs, ['stuck process 0 still running 300 ms after SIGTERM: SIGKILL']);
});

/** A supervisor over children forked from `sources[index]`, each sending 'up' once running. */
async function supervisorOver(sources: readonly string[], logs: string[]): Promise<ProcessSupervisor> {
  const children: ChildProcess[] = [];
  const supervisor = new ProcessSupervisor({
    processes: sources.length,
    label: 'test process',
    log: linesLog((m) => logs.push(m)),
    spawn: (index) => {
      const child = fork('-e', [`${sources[index] ?? ''} setInterval(() => {}, 1000); process.send('up');`], { execArgv: [], stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
      children.push(child);
      return child;
    },
  });
  supervisor.start();
  await Promise.all(children.map((child) => once(child, 'message')));
  return supervisor;
}

test('stop() is not clean when a child exits non-zero or dies of another signal than the one sent', async () => {
  const logs: string[] = [];
  // 0: its drain fails (exit 1); 1: it aborts on SIGTERM.
  const supervisor = await supervisorOver([`process.on('SIGTERM', () => process.exit(1));`, `process.on('SIGTERM', () => process.kill(process.pid, 'SIGABRT'));`], logs);
  assert.deepEqual(await supervisor.stop(), { clean: false });
  assert.deepEqual(logs.sort(), ['test process 0 exited (code 1) after SIGTERM', 'test process 1 exited (SIGABRT) after SIGTERM']);
});

test('stop() is clean when a child with no SIGTERM handler yet (still starting: nothing to drain) dies of the SIGTERM sent', async () => {
  const logs: string[] = [];
  const supervisor = await supervisorOver([`process.on('SIGTERM', () => process.exit(0));`, ''], logs);
  assert.deepEqual(await supervisor.stop(), { clean: true });
  assert.deepEqual(logs, []);
});

test('readiness: none once stop() has begun (stopping), though the processes still drain', async () => {
  let child: ChildProcess | undefined;
  const supervisor = new ProcessSupervisor({
    processes: 1,
    label: 'test process',
    log: silentLog,
    spawn: () => (child = spawnAnnouncing('idle')),
  });
  supervisor.start();
  const deadline = Date.now() + 10_000;
  while (supervisor.readiness().ready === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  assert.deepEqual(supervisor.readiness(), { ready: 1, processes: 1, stopping: false, notReady: [] });
  const stopped = supervisor.stop();
  assert.deepEqual(supervisor.readiness(), { ready: 0, processes: 1, stopping: true, notReady: [] });
  assert.equal(child?.exitCode, null, 'still running');
  await stopped;
});

test('readiness: k of N once each process announces it; a process that exits is not ready, nor its replacement until it announces', { timeout: 30_000 }, async () => {
  // Announces when told to; exits 3 when told to.
  const source = `
    process.on('message', (m) => {
      if (m === 'ready') import(${JSON.stringify(announce)}).then((module) => module.announceReady());
      if (m === 'crash') process.exit(3);
    });
    process.send('up');
  `;
  const { supervisor, children } = superviseTwo(source);
  const ready = () => supervisor.readiness().ready;
  try {
    supervisor.start();
    await Promise.all(children.map((child) => once(child, 'message')));
    assert.deepEqual(supervisor.readiness(), { ready: 0, processes: 2, stopping: false, notReady: [] });
    children[0]?.send('ready');
    await until('1 of 2', () => ready() === 1);
    children[1]?.send('ready');
    await until('2 of 2', () => ready() === 2);

    children[1]?.send('crash');
    await until('the crashed process to count as not ready', () => ready() === 1);
    await until('its replacement', () => children.length === 3);
    await once(children[2] as ChildProcess, 'message');
    assert.equal(ready(), 1, 'the replacement is not ready until it says so');
    children[2]?.send('ready');
    await until('2 of 2 again', () => ready() === 2);
  } finally {
    await supervisor.stop();
  }
});

test('readiness: a process that reports it cannot take work (reportNotReady) is not ready, with its reason, until it says it can again; one reported while starting holds from its announcement; its exit takes the reason with it', { timeout: 30_000 }, async () => {
  // Reports, announces or exits when told to.
  const source = `
    process.on('message', (m) => import(${JSON.stringify(announce)}).then((module) => {
      if (m === 'ready') module.announceReady();
      if (m === 'storage-out') module.reportNotReady('storage: unavailable');
      if (m === 'storage-back') module.reportNotReady(undefined);
      if (m === 'crash') process.exit(3);
    }));
    process.send('up');
  `;
  const { supervisor, children } = superviseTwo(source);
  const readiness = () => supervisor.readiness();
  try {
    supervisor.start();
    await Promise.all(children.map((child) => once(child, 'message')));
    // Out before it is ready: not ready once it announces either.
    children[0]?.send('storage-out');
    children[0]?.send('ready');
    children[1]?.send('ready');
    await until('the second process ready, the first one out', () => readiness().ready === 1 && readiness().notReady.length === 1 && children.every((child) => child.connected));
    assert.deepEqual(readiness(), { ready: 1, processes: 2, stopping: false, notReady: ['storage: unavailable'] });
    children[1]?.send('storage-out');
    await until('both out', () => readiness().notReady.length === 2);
    assert.deepEqual(readiness(), { ready: 0, processes: 2, stopping: false, notReady: ['storage: unavailable', 'storage: unavailable'] });
    children[0]?.send('storage-back');
    await until('the first one back', () => readiness().ready === 1);
    assert.deepEqual(readiness().notReady, ['storage: unavailable']);
    children[1]?.send('crash');
    await until('the crashed process\'s reason gone', () => readiness().notReady.length === 0);
    await until('its replacement', () => children.length === 3);
    await once(children[2] as ChildProcess, 'message');
    children[2]?.send('ready');
    await until('2 of 2', () => readiness().ready === 2);
    assert.deepEqual(readiness(), { ready: 2, processes: 2, stopping: false, notReady: [] });
  } finally {
    await supervisor.stop();
  }
});

/** A supervisor of two processes, each `node -e source` (under tsx) with an IPC channel; `children` every one forked so far. */
function superviseTwo(source: string): { supervisor: ProcessSupervisor; children: ChildProcess[] } {
  const children: ChildProcess[] = [];
  const supervisor = new ProcessSupervisor({
    processes: 2,
    label: 'test process',
    log: silentLog,
    restartDelayMs: 20,
    spawn: () => {
      const child = fork('-e', [source], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
      children.push(child);
      return child;
    },
  });
  return { supervisor, children };
}
