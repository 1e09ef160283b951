import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { processRunning } from '@gradcam/dev-services';

const helper = fileURLToPath(new URL('./exit-with-supervisor.ts', import.meta.url));

/**
 * Runs `childBody` (after `import { exitWithSupervisor }` and a line giving its pid) in a child
 * forked by a supervisor process, SIGKILLs the supervisor once the child has said its pid (or
 * `killAfterLine`, for a body that must be set up before), and gives back the child's output lines
 * once the child has exited.
 */
async function killSupervisorOf(childBody: string, killAfterLine?: string): Promise<string[]> {
  const dir = await mkdtemp(join(tmpdir(), 'gradcam-supervisor-'));
  const pids: number[] = [];
  try {
    await writeFile(
      join(dir, 'child.mjs'),
      `import { exitWithSupervisor } from ${JSON.stringify(helper)};
       console.log('child ' + process.pid);
       ${childBody}
       setInterval(() => {}, 1000);`,
    );
    await writeFile(
      join(dir, 'supervisor.mjs'),
      `import { fork } from 'node:child_process';
       fork(${JSON.stringify(join(dir, 'child.mjs'))}, [], { stdio: 'inherit', execArgv: ['--import', 'tsx'] });
       setInterval(() => {}, 1000);`,
    );
    const supervisor = spawn(process.execPath, [join(dir, 'supervisor.mjs')], { stdio: ['ignore', 'pipe', 'inherit'] });
    pids.push(supervisor.pid as number);
    const lines: string[] = [];
    let childPid = 0;
    await new Promise<void>((resolve) => {
      createInterface({ input: supervisor.stdout }).on('line', (line) => {
        lines.push(line);
        const match = /^child (\d+)$/.exec(line);
        if (match) childPid = Number(match[1]);
        if (killAfterLine === undefined ? match : line === killAfterLine) resolve();
      });
    });
    pids.push(childPid);
    assert.ok(processRunning(childPid));
    supervisor.kill('SIGKILL');
    const deadline = Date.now() + 10_000;
    while (processRunning(childPid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.ok(!processRunning(childPid), `the child is gone with its supervisor: ${lines.join(' | ')}`);
    return lines;
  } finally {
    for (const pid of pids) if (processRunning(pid)) process.kill(pid, 'SIGKILL');
    await rm(dir, { recursive: true, force: true });
  }
}

test('a forked child drains and exits when its supervisor is SIGKILLed, instead of living on under init', async () => {
  const lines = await killSupervisorOf(`exitWithSupervisor(() => { console.log('supervisor gone: draining'); setTimeout(() => process.exit(0), 100); });`);
  assert.ok(lines.includes('supervisor gone: draining'), `it shut down through its own handler: ${lines.join(' | ')}`);
});

test('a child whose supervisor died before it called exitWithSupervisor (still loading its modules) shuts down at once', async () => {
  // The event loop turns meanwhile, as while ES modules load, so the channel's close is seen (and
  // its 'disconnect' event emitted to nobody) before the call.
  const lines = await killSupervisorOf(`
    while (process.connected) await new Promise((r) => setTimeout(r, 20));
    console.log('loaded');
    exitWithSupervisor(() => { console.log('supervisor gone: exiting'); process.exit(0); });`);
  assert.deepEqual(lines.slice(1), ['loaded', 'supervisor gone: exiting']);
});

test('a child whose main thread is busy (modules loading synchronously, as under tsx on Node 22+) still goes with its supervisor', async () => {
  // The main thread is blocked for 60 s: no 'disconnect' event can run, so only a watch that does
  // not need it ends the child within killSupervisorOf's 10 s. The supervisor dies after the call.
  const lines = await killSupervisorOf(`
    exitWithSupervisor(() => { console.log('early: exiting'); process.exit(0); });
    console.log('watching');
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 60_000);
    console.log('loaded');`, 'watching');
  assert.deepEqual(lines.slice(1), ['watching'], 'it never finished loading');
});

test('a busy child told its supervisor\'s pid goes with it though the supervisor died before the call', async () => {
  // By the call the child has been handed to a new parent, which would look like its supervisor.
  const lines = await killSupervisorOf(`
    const supervisor = process.ppid;
    console.log('parent known');
    const block = (ms) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
    while (process.ppid === supervisor) block(20);
    exitWithSupervisor(() => { console.log('early: exiting'); process.exit(0); }, supervisor);
    block(60_000);
    console.log('loaded');`, 'parent known');
  assert.deepEqual(lines.slice(1), ['parent known'], 'it never finished loading');
});

test('a later call replaces the shutdown: an exit-at-once one early, a draining one once there is work to drain', async () => {
  const lines = await killSupervisorOf(`
    exitWithSupervisor(() => { console.log('early: exiting'); process.exit(0); });
    exitWithSupervisor(() => { console.log('draining'); setTimeout(() => process.exit(0), 100); });`);
  assert.deepEqual(lines.slice(1), ['draining'], 'only the latest shutdown ran');
});
