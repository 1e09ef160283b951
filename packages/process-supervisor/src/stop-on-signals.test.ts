import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { processRunning } from '@gradcam/dev-services';

// A supervising process as a service runs one (start() then stopOnSignals()), with two tiny
// children: how it ends, and with what status.
const supervisorModule = fileURLToPath(new URL('./process-supervisor.ts', import.meta.url));
const announceModule = fileURLToPath(new URL('./announce-ready.ts', import.meta.url));

/**
 * Child sources: each runs `then` (its SIGTERM handler), then says `child <index> <pid>` on stdout
 * and announces it is ready. The handler comes first: a SIGTERM sent on seeing the line must find
 * it, or the child dies of the signal itself (a clean stop) on a machine busy enough to pause it
 * between the two.
 */
const child = (then: string) => `
  import(${JSON.stringify(announceModule)}).then((module) => {
    ${then}
    console.log('child ' + process.argv[1] + ' ' + process.pid);
    module.announceReady();
    setInterval(() => {}, 1000);
  });`;
const drainsCleanly = child(`process.on('SIGTERM', () => setTimeout(() => process.exit(0), 50));`);
const drainFails = child(`process.on('SIGTERM', () => process.exit(1));`);
const drainsSlowly = child(`process.on('SIGTERM', () => setTimeout(() => process.exit(0), 1500));`);
const crashesAtOnce = `process.exit(1);`;

interface Running {
  readonly lines: string[];
  readonly exited: Promise<number | null>;
  readonly kill: (signal: NodeJS.Signals) => void;
  line(pattern: RegExp): Promise<string>;
}

function startSupervisor(children: readonly [string, string]): Running {
  const source = `
    import { fork } from 'node:child_process';
    import { ProcessSupervisor } from ${JSON.stringify(supervisorModule)};
    const children = ${JSON.stringify(children)};
    const supervisor = new ProcessSupervisor({
      processes: 2, label: 'test process', log: { info: console.log, warn: console.log, error: console.log }, restartDelayMs: 20, killAfterMs: 5000, announcesReady: true,
      spawn: (index) => fork('-e', [children[index], String(index)], { execArgv: ['--import', 'tsx'], stdio: 'inherit' }),
    });
    supervisor.start();
    supervisor.stopOnSignals();`;
  const process_ = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', source], { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines: string[] = [];
  const waiting: { pattern: RegExp; resolve: (line: string) => void }[] = [];
  createInterface({ input: process_.stdout }).on('line', (line) => {
    lines.push(line);
    for (const w of waiting) if (w.pattern.test(line)) w.resolve(line);
  });
  const exited = once(process_, 'exit').then(([code]) => code as number | null);
  return {
    lines,
    exited,
    kill: (signal) => process_.kill(signal),
    line: (pattern) =>
      new Promise((resolve, reject) => {
        const found = lines.find((l) => pattern.test(l));
        if (found !== undefined) return resolve(found);
        const timer = setTimeout(() => reject(new Error(`no line ${pattern} within 15 s: ${lines.join(' | ')}`)), 15_000);
        waiting.push({ pattern, resolve: (line) => (clearTimeout(timer), resolve(line)) });
      }),
  };
}

const childPid = (line: string) => Number(line.split(' ')[2]);

test('SIGTERM: the supervising process exits 0 once every child has drained and exited 0', { timeout: 30_000 }, async () => {
  const supervisor = startSupervisor([drainsCleanly, drainsCleanly]);
  const pids = (await Promise.all([supervisor.line(/^child 0 /), supervisor.line(/^child 1 /)])).map(childPid);
  supervisor.kill('SIGTERM');
  assert.equal(await supervisor.exited, 0);
  for (const pid of pids) assert.ok(!processRunning(pid));
});

test('a second SIGTERM, or a SIGINT, while the children drain is logged and ignored: the supervising process still waits for them, then exits 0', { timeout: 30_000 }, async () => {
  const supervisor = startSupervisor([drainsSlowly, drainsSlowly]);
  const pids = (await Promise.all([supervisor.line(/^child 0 /), supervisor.line(/^child 1 /)])).map(childPid);
  try {
    supervisor.kill('SIGTERM');
    await supervisor.line(/^SIGTERM: stopping 2 × test process$/);
    supervisor.kill('SIGTERM');
    await supervisor.line(/^SIGTERM: already stopping/);
    supervisor.kill('SIGINT');
    await supervisor.line(/^SIGINT: already stopping/);
    assert.equal(await supervisor.exited, 0, supervisor.lines.join(' | '));
    assert.deepEqual(
      supervisor.lines.filter((l) => l.includes('already stopping')),
      ['SIGTERM: already stopping; waiting for each test process to drain', 'SIGINT: already stopping; waiting for each test process to drain (Ctrl-C again to kill them)'],
    );
    for (const pid of pids) assert.ok(!processRunning(pid), 'the children drained and exited before it did');
  } finally {
    // Before this was fixed, the supervisor died of the second signal and left them under init.
    for (const pid of pids) if (processRunning(pid)) process.kill(pid, 'SIGKILL');
  }
});

test('a third Ctrl-C (SIGINT) while the children drain SIGKILLs them and exits 1 at once; two SIGINTs 30 ms apart are one press', { timeout: 30_000 }, async () => {
  const hangs = child(`process.on('SIGTERM', () => {});`);
  const supervisor = startSupervisor([hangs, hangs]);
  const pids = (await Promise.all([supervisor.line(/^child 0 /), supervisor.line(/^child 1 /)])).map(childPid);
  const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
  try {
    // One press that arrives twice (the terminal's, and a launcher such as tsx forwarding it).
    supervisor.kill('SIGINT');
    await pause(30);
    supervisor.kill('SIGINT');
    await supervisor.line(/^SIGINT: stopping 2 × test process$/);
    await pause(700);
    assert.deepEqual(supervisor.lines.filter((l) => l.startsWith('SIGINT')), ['SIGINT: stopping 2 × test process'], 'the copy of the first press is not a press');
    supervisor.kill('SIGINT');
    await supervisor.line(/^SIGINT: already stopping/);
    await pause(700);
    const sent = Date.now();
    supervisor.kill('SIGINT');
    assert.equal(await supervisor.exited, 1, supervisor.lines.join(' | '));
    assert.ok(Date.now() - sent < 4000, 'long before killAfterMs (5 s)');
    assert.match(supervisor.lines.at(-1) ?? '', /^SIGINT a third time: SIGKILL to every test process/);
    const deadline = Date.now() + 5000;
    while (pids.some(processRunning) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(pids.filter(processRunning), [], 'the children were killed');
  } finally {
    for (const pid of pids) if (processRunning(pid)) process.kill(pid, 'SIGKILL');
  }
});

test('SIGTERM: the supervising process exits 1 when a child failed its drain (exited non-zero)', { timeout: 30_000 }, async () => {
  const supervisor = startSupervisor([drainsCleanly, drainFails]);
  await Promise.all([supervisor.line(/^child 0 /), supervisor.line(/^child 1 /)]);
  supervisor.kill('SIGTERM');
  assert.equal(await supervisor.exited, 1);
  assert.ok(supervisor.lines.includes('test process 1 exited (code 1) after SIGTERM'), supervisor.lines.join(' | '));
});

test('a slot that crashes on every start: the supervising process stops the other child and exits 1, saying why', { timeout: 30_000 }, async () => {
  const supervisor = startSupervisor([drainsCleanly, crashesAtOnce]);
  const healthy = childPid(await supervisor.line(/^child 0 /));
  const code = await Promise.race([supervisor.exited, new Promise<string>((r) => setTimeout(() => r('still running after 20 s'), 20_000).unref())]);
  // Not given up: stop it the way that stops its children too.
  if (code !== 1) supervisor.kill('SIGTERM');
  assert.equal(code, 1, supervisor.lines.join(' | '));
  assert.equal(supervisor.lines.filter((l) => l.includes('giving up')).length, 1);
  assert.ok(supervisor.lines.includes('test process 1 exited before it was ready 5 times in a row (last: code 1); giving up: stopping the other processes'));
  assert.ok(!processRunning(healthy), 'the healthy child was stopped first');
});
