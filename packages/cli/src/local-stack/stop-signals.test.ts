import assert from 'node:assert/strict';
import { type ChildProcessByStdio, spawn } from 'node:child_process';
import { once } from 'node:events';
import type { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';
import { samePressWindowMs } from './stop-signals.ts';

// A real process receiving real signals: the handlers print what they were told, and force exits.
const child = `
import { handleStopSignals } from ${JSON.stringify(new URL('./stop-signals.ts', import.meta.url).href)};
handleStopSignals({
  stop: (signal) => console.log('stop ' + signal),
  waiting: () => console.log('waiting'),
  force: (code) => { console.log('force ' + code); process.exit(code); },
});
console.log('ready');
setInterval(() => {}, 1000);
`;

/** Longer than the same-press window: a signal sent this long after a line was printed is a new press. */
const nextPress = () => sleep(samePressWindowMs + 100);

interface SignalUser {
  readonly proc: ChildProcessByStdio<null, Readable, null>;
  readonly lines: string[];
  /** Resolves once `count` lines were printed, or the process exited. */
  seen(count: number): Promise<unknown>;
  readonly exited: Promise<[number | null]>;
}

async function startSignalUser(): Promise<SignalUser> {
  const proc = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', child], { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines: string[] = [];
  let buffered = '';
  proc.stdout.on('data', (chunk: Buffer) => {
    buffered += chunk.toString('utf8');
    const parts = buffered.split('\n');
    buffered = parts.pop() ?? '';
    lines.push(...parts);
  });
  const exited = once(proc, 'exit') as Promise<[number | null]>;
  const printed = (count: number) =>
    new Promise<void>((resolve) => {
      const check = () => {
        if (lines.length >= count) resolve();
        else proc.stdout.once('data', check);
      };
      check();
    });
  // A process that dies of a signal prints nothing more: stop waiting for lines then.
  const seen = (count: number) => Promise.race([printed(count), exited]);
  await seen(1);
  return { proc, lines, seen, exited };
}

/** Sends each signal as its own press (after the same-press window), waiting for its line. */
async function run(signals: NodeJS.Signals[]): Promise<{ lines: string[]; code: number | null }> {
  const user = await startSignalUser();
  for (const [i, signal] of signals.entries()) {
    if (user.proc.exitCode !== null || user.proc.signalCode !== null) break;
    if (i > 0) await nextPress();
    user.proc.kill(signal);
    await user.seen(i + 2);
  }
  if (user.proc.exitCode === null && user.proc.signalCode === null && user.lines.at(-1)?.startsWith('force') !== true) user.proc.kill('SIGKILL');
  const [code] = await user.exited;
  return { lines: user.lines, code };
}

test('the first Ctrl-C stops in order, the second says what the stop waits for, the third exits 130', async () => {
  const { lines, code } = await run(['SIGINT', 'SIGINT', 'SIGINT']);
  assert.deepEqual(lines, ['ready', 'stop SIGINT', 'waiting', 'force 130']);
  assert.equal(code, 130);
});

test('SIGTERM counts the same, and a forced exit says which signal forced it (143)', async () => {
  const { lines, code } = await run(['SIGTERM', 'SIGINT', 'SIGTERM']);
  assert.deepEqual(lines, ['ready', 'stop SIGTERM', 'waiting', 'force 143']);
  assert.equal(code, 143);
});

test('a closed terminal (SIGHUP) stops in order too instead of killing the process, and forces 129', async () => {
  const { lines, code } = await run(['SIGHUP', 'SIGINT', 'SIGHUP']);
  assert.deepEqual(lines, ['ready', 'stop SIGHUP', 'waiting', 'force 129']);
  assert.equal(code, 129);
});

test('one Ctrl-C under npm start (the terminal\'s SIGINT and npm\'s forwarded copy, 20 ms apart) is one press; a later one is the second', async () => {
  const user = await startSignalUser();
  try {
    user.proc.kill('SIGINT');
    await sleep(20);
    user.proc.kill('SIGINT');
    await user.seen(2);
    // Had the copy counted, "waiting" would follow "stop" at once; a later press is still the second.
    await nextPress();
    assert.deepEqual(user.lines, ['ready', 'stop SIGINT'], 'the copy did not count as a second press');
    user.proc.kill('SIGINT');
    await user.seen(3);
    assert.deepEqual(user.lines, ['ready', 'stop SIGINT', 'waiting']);
    assert.equal(user.proc.exitCode, null, 'still stopping in order');
    await nextPress();
    user.proc.kill('SIGINT');
    const [code] = await user.exited;
    assert.deepEqual(user.lines, ['ready', 'stop SIGINT', 'waiting', 'force 130']);
    assert.equal(code, 130);
  } finally {
    if (user.proc.exitCode === null && user.proc.signalCode === null) user.proc.kill('SIGKILL');
  }
});
