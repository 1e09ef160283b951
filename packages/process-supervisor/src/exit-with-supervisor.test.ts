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
 * forked by a supervisor process, SIGKILLs the supervisor once the child has said its pid, and
 * gives back the child's output lines once the child has exited.
 */
async function killSupervisorOf(childBody: string): Promise<string[]> {
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
    const childPid = await new Promise<number>((resolve) => {
      createInterface({ input: supervisor.stdout }).on('line', (line) => {
        lines.push(line);
        const match = /^child (\d+)$/.exec(line);
        if (match) resolve(Number(match[1]));
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

test('a later call replaces the shutdown: an exit-at-once one early, a draining one once there is work to drain', async () => {
  const lines = await killSupervisorOf(`
    exitWithSupervisor(() => { console.log('early: exiting'); process.exit(0); });
    exitWithSupervisor(() => { console.log('draining'); setTimeout(() => process.exit(0), 100); });`);
  assert.deepEqual(lines.slice(1), ['draining'], 'only the latest shutdown ran');
});
