import assert from 'node:assert/strict';
import { type ChildProcess, fork } from 'node:child_process';
import { once } from 'node:events';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ProcessSupervisor } from './process-supervisor.ts';

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

test('starts N processes and restarts one that crashes, backing off while it keeps crashing', async () => {
  const started: string[] = [];
  const logs: string[] = [];
  let crashes = 2;
  const supervisor = new ProcessSupervisor({
    processes: 2,
    label: 'test process',
    log: (m) => logs.push(m),
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
});

test('stop() forwards the signal and resolves once every child has exited; nothing is restarted', async () => {
  const children: ChildProcess[] = [];
  const started: string[] = [];
  const supervisor = new ProcessSupervisor({
    processes: 3,
    label: 'test process',
    log: () => {},
    spawn: (index) => {
      const child = spawnChild(index, () => 'idle', started);
      children.push(child);
      return child;
    },
  });
  supervisor.start();
  await Promise.all(children.map((child) => once(child, 'message')));
  await supervisor.stop();
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
    log: (m) => logs.push(m),
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
  await supervisor.stop();
  assert.equal(child?.signalCode, 'SIGKILL');
  assert.ok(Date.now() - started >= 300, 'it had its grace period first');
  assert.deepEqual(logs, ['stuck process 0 still running 300 ms after SIGTERM: SIGKILL']);
});

test('readiness: k of N once each process announces it; a process that exits is not ready, nor its replacement until it announces', { timeout: 30_000 }, async () => {
  const announce = fileURLToPath(new URL('./announce-ready.ts', import.meta.url));
  // Announces when told to; exits 3 when told to.
  const source = `
    process.on('message', (m) => {
      if (m === 'ready') import(${JSON.stringify(announce)}).then((module) => module.announceReady());
      if (m === 'crash') process.exit(3);
    });
    process.send('up');
  `;
  const children: ChildProcess[] = [];
  const supervisor = new ProcessSupervisor({
    processes: 2,
    label: 'test process',
    log: () => {},
    restartDelayMs: 20,
    spawn: () => {
      const child = fork('-e', [source], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
      children.push(child);
      return child;
    },
  });
  const until = async (what: string, check: () => boolean) => {
    const deadline = Date.now() + 10_000;
    while (!check()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  };
  const ready = () => supervisor.readiness().ready;
  try {
    supervisor.start();
    await Promise.all(children.map((child) => once(child, 'message')));
    assert.deepEqual(supervisor.readiness(), { ready: 0, processes: 2 });
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
