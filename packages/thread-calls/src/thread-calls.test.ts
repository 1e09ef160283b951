import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { test } from 'node:test';
import { ThreadCalls } from './thread-calls.ts';

type Request = { op: 'echo'; value: number } | { op: 'wait'; value: number; ms: number } | { op: 'crash' };
type Reply = { echoed: number };

class ThreadDied extends Error {
  constructor(
    readonly reason: string,
    readonly exitCode: number,
  ) {
    super(`test thread failed (${reason}, code ${exitCode})`);
  }
}

const open = () => new ThreadCalls<Request, Reply>({ url: new URL('./test-thread.mjs', import.meta.url), failure: (cause, code) => new ThreadDied(cause, code) });

test('calls in flight at once each get their own reply, in whatever order the thread answers', async () => {
  const thread = open();
  const calls = Array.from({ length: 20 }, (_, i) => thread.call(i % 2 === 0 ? { op: 'wait', value: i, ms: 20 - i } : { op: 'echo', value: i }));
  assert.equal(thread.inFlight, 20);
  assert.deepEqual(
    (await Promise.all(calls)).map((r) => r.echoed),
    Array.from({ length: 20 }, (_, i) => i),
  );
  assert.equal(thread.inFlight, 0);
  await thread.close();
});

test('a thread that dies fails the calls it had with `failure`; the next call gets a new thread', async () => {
  const thread = open();
  const waiting = thread.call({ op: 'wait', value: 1, ms: 10_000 });
  const crash = thread.call({ op: 'crash' });
  for (const call of [waiting, crash]) {
    await assert.rejects(call, (error: unknown) => error instanceof ThreadDied && error.reason === 'asked to crash' && error.exitCode === 1);
  }
  assert.deepEqual(await thread.call({ op: 'echo', value: 7 }), { echoed: 7 });
  await thread.close();
});

test('a request that cannot be sent rejects at once and is not left in flight', async () => {
  const thread = open();
  await assert.rejects(thread.call({ op: 'echo', value: (() => 1) as unknown as number }), { name: 'DataCloneError' });
  assert.equal(thread.inFlight, 0);
  assert.deepEqual(await thread.call({ op: 'echo', value: 2 }), { echoed: 2 });
  await thread.close();
});

test('close lets the calls in flight finish, then refuses new ones; safe twice', async () => {
  const thread = open();
  const slow = thread.call({ op: 'wait', value: 3, ms: 50 });
  await thread.close();
  assert.deepEqual(await slow, { echoed: 3 });
  await assert.rejects(thread.call({ op: 'echo', value: 1 }), /closed/);
  await thread.close();
});

test('an idle thread does not keep the process alive; one with a call in flight does', async () => {
  // The child calls once and never closes: it must exit by itself once the (slow) reply is in.
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      '--input-type=module',
      '-e',
      `import { ThreadCalls } from ${JSON.stringify(new URL('./thread-calls.ts', import.meta.url).href)};
       const thread = new ThreadCalls({ url: new URL(${JSON.stringify(new URL('./test-thread.mjs', import.meta.url).href)}), failure: () => new Error('died') });
       thread.start();
       const reply = await thread.call({ op: 'wait', value: 5, ms: 300 });
       console.log('replied', reply.echoed);`,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  const [code, signal] = await once(child, 'exit');
  clearTimeout(timer);
  assert.equal(signal, null, 'the process hung and was killed');
  assert.equal(code, 0);
  assert.equal(output.trim(), 'replied 5', 'the pending call kept the process alive until its reply');
});
