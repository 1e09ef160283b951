import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { test } from 'node:test';

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

async function run(signals: NodeJS.Signals[]): Promise<{ lines: string[]; code: number | null }> {
  const proc = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', child], { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines: string[] = [];
  let buffered = '';
  const seen = (count: number) =>
    new Promise<void>((resolve) => {
      const check = () => {
        if (lines.length >= count) resolve();
        else proc.stdout.once('data', check);
      };
      check();
    });
  proc.stdout.on('data', (chunk: Buffer) => {
    buffered += chunk.toString('utf8');
    const parts = buffered.split('\n');
    buffered = parts.pop() ?? '';
    lines.push(...parts);
  });
  const exited = once(proc, 'exit') as Promise<[number | null]>;
  // A process that dies of a signal prints nothing more: stop waiting for lines then.
  const seenOrExited = (count: number) => Promise.race([seen(count), exited]);
  await seenOrExited(1);
  for (const [i, signal] of signals.entries()) {
    if (proc.exitCode !== null || proc.signalCode !== null) break;
    proc.kill(signal);
    await seenOrExited(i + 2);
  }
  if (proc.exitCode === null && proc.signalCode === null && lines.at(-1)?.startsWith('force') !== true) proc.kill('SIGKILL');
  const [code] = await exited;
  return { lines, code };
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
