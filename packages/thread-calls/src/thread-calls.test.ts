import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { test } from 'node:test';
import { ThreadCalls } from './thread-calls.ts';
import { ThreadStuckError } from './thread-stuck-error.ts';

type Request = { op: 'echo' | 'junk'; value: number } | { op: 'wait' | 'progress'; value: number; ms: number } | { op: 'crash' } | { op: 'block'; value: number; flag: SharedArrayBuffer };
type Reply = { echoed: number };

class ThreadDied extends Error {
  readonly reason: string;
  readonly exitCode: number;

  constructor(
    reason: string,
    exitCode: number,
  ) {
    super(`test thread failed (${reason}, code ${exitCode})`);
    this.reason = reason;
    this.exitCode = exitCode;
  }
}

const open = (timeoutMs?: number) =>
  new ThreadCalls<Request, Reply>({
    url: new URL('./test-thread.mjs', import.meta.url),
    failure: (cause, code) => new ThreadDied(cause, code),
    ...(timeoutMs !== undefined && { timeoutMs }),
  });

/** A flag that keeps a `block` call blocked until `release()`: a system call that never returns. */
function blocker(): { flag: SharedArrayBuffer; release(): void } {
  const flag = new SharedArrayBuffer(4);
  return {
    flag,
    release() {
      const cell = new Int32Array(flag);
      Atomics.store(cell, 0, 1);
      Atomics.notify(cell, 0);
    },
  };
}

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

test('a thread silent for timeoutMs with a call in flight is given up: its calls fail, the next call gets a new thread, close settles', { timeout: 30_000 }, async () => {
  const thread = open(300);
  const stuck = blocker();
  try {
    const blocked = thread.call({ op: 'block', value: 1, flag: stuck.flag });
    const behind = thread.call({ op: 'echo', value: 2 });
    await assert.rejects(blocked, (error: unknown) => error instanceof ThreadStuckError && error.missed && error.timeoutMs === 300);
    await assert.rejects(behind, (error: unknown) => error instanceof ThreadStuckError && !error.missed);
    assert.equal(thread.inFlight, 0);
    assert.equal(thread.stuckThreads, 1);
    assert.deepEqual(await thread.call({ op: 'echo', value: 3 }), { echoed: 3 }, 'a new thread answers');
    // The old thread answers once unblocked: nothing of it reaches the new thread's calls.
    const later = thread.call({ op: 'wait', value: 4, ms: 100 });
    stuck.release();
    assert.deepEqual(await later, { echoed: 4 });
    for (let waited = 0; thread.stuckThreads > 0; waited += 20) {
      assert.ok(waited < 20_000, 'the stuck thread ends once its call returns');
      await new Promise((resolve) => setTimeout(resolve, 20));
    }

    const again = blocker();
    try {
      const blockedAgain = thread.call({ op: 'block', value: 5, flag: again.flag });
      blockedAgain.catch(() => {});
      await thread.close(); // waits for the deadline, not for the blocked call
      await assert.rejects(blockedAgain, ThreadStuckError);
      await assert.rejects(thread.call({ op: 'echo', value: 6 }), /closed/);
    } finally {
      again.release();
    }
  } finally {
    stuck.release();
    await thread.close();
  }
});

test('timeoutMs is on silence: a call that takes longer but says it is moving is not given up; one that is silent is', { timeout: 30_000 }, async () => {
  const thread = open(300);
  try {
    assert.deepEqual(await thread.call({ op: 'progress', value: 1, ms: 1_000 }), { echoed: 1 });
    assert.equal(thread.stuckThreads, 0);
    await assert.rejects(thread.call({ op: 'wait', value: 2, ms: 1_000 }), (error: unknown) => error instanceof ThreadStuckError && error.missed);
  } finally {
    await thread.close();
  }
});

test('timeoutMs: a reply that came while this thread was itself blocked past the deadline is taken, not given up on', { timeout: 30_000 }, async () => {
  const thread = open(200);
  try {
    await thread.call({ op: 'echo', value: 0 }); // the thread runs
    const answered = thread.call({ op: 'echo', value: 1 });
    // A long synchronous task (or a paused container) once the reply is on its way: the deadline
    // passes meanwhile, and the expired timer comes before the waiting reply in the next turn.
    setImmediate(() =>
      setImmediate(() => {
        const until = Date.now() + 400;
        while (Date.now() < until);
      }),
    );
    assert.deepEqual(await answered, { echoed: 1 });
    assert.equal(thread.stuckThreads, 0);
  } finally {
    await thread.close();
  }
});

test('a message from the thread that is neither a reply nor a progress note (null, a number…) is ignored with a warning: no crash, the call still gets its reply', async () => {
  const warnings: string[] = [];
  const onWarning = (warning: Error & { code?: string }) => void (warning.code === 'GRADCAM_THREAD_MESSAGE' && warnings.push(warning.message));
  process.on('warning', onWarning);
  const thread = open(5_000);
  try {
    assert.deepEqual(await thread.call({ op: 'junk', value: 8 }), { echoed: 8 });
    await new Promise((resolve) => setImmediate(resolve));
    const url = new URL('./test-thread.mjs', import.meta.url).href;
    assert.deepEqual(
      warnings,
      ['null', 'a number', 'a string', 'an object'].map((what) => `thread ${url} posted ${what}, neither { id, reply } nor a progress note: ignored`),
    );
  } finally {
    process.off('warning', onWarning);
    await thread.close();
  }
});

test('timeoutMs must be positive', () => {
  for (const timeoutMs of [0, -1, Number.NaN]) assert.throws(() => open(timeoutMs), RangeError);
});
