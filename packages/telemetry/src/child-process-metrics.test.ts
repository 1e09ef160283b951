import assert from 'node:assert/strict';
import { type ChildProcess, fork } from 'node:child_process';
import cluster from 'node:cluster';
import { once } from 'node:events';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Counter, Registry } from 'prom-client';
import { ChildProcessMetrics } from './child-process-metrics.ts';
import type { ChildCommand, ChildReply } from './test-support/metrics-child.ts';

const childScript = fileURLToPath(new URL('./test-support/metrics-child.ts', import.meta.url));
const execArgv = ['--import', 'tsx'];
/** Every child the tests start, killed at the end even when a test timed out. */
const children: ChildProcess[] = [];

function started(child: ChildProcess): ChildProcess {
  children.push(child);
  return child;
}

function forkChild(label: string): ChildProcess {
  return started(fork(childScript, [], { execArgv, env: { ...process.env, METRICS_CHILD_LABEL: label }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
}

function clusterChild(label: string): ChildProcess {
  cluster.setupPrimary({ exec: childScript, execArgv });
  return started(cluster.fork({ METRICS_CHILD_LABEL: label }).process);
}

/**
 * Resolves with the child's first message: its unasked first report, sent once its message
 * listener is in place (a message that arrives before that is lost).
 */
const listening = (child: ChildProcess) => once(child, 'message');

/** Sends a command and resolves with the child's reply of the given kind. */
async function ask<K extends ChildReply['cmd']>(child: ChildProcess, command: ChildCommand, reply: K): Promise<Extract<ChildReply, { cmd: K }>> {
  const answer = new Promise<Extract<ChildReply, { cmd: K }>>((resolve) => {
    const listener = (message: unknown) => {
      if ((message as ChildReply).cmd !== reply) return;
      child.off('message', listener);
      resolve(message as Extract<ChildReply, { cmd: K }>);
    };
    child.on('message', listener);
  });
  child.send(command);
  return answer;
}

async function value(metrics: ChildProcessMetrics, name: string, child: string): Promise<number | undefined> {
  const metric = (await (await metrics.collect()).getMetricsAsJSON()).find((m) => m.name === name);
  return metric?.values.find((v) => v.labels.child === child)?.value;
}

after(async () => {
  await Promise.all(
    children.map(async (child) => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, 'exit');
      child.kill('SIGKILL');
      await exited;
    }),
  );
});

test('a forked child and a node:cluster worker are summed by one collection; one that exits stays counted at its last report', { timeout: 60_000 }, async () => {
  const own = new Registry();
  own.setDefaultLabels({ child: 'parent' });
  new Counter({ name: 'test_counted_total', help: 'Counted on command.', registers: [own] }).inc(1);
  const metrics = new ChildProcessMetrics({ own });
  const forked = metrics.track(forkChild('forked'));
  const worker = metrics.track(clusterChild('cluster'));
  await Promise.all([listening(forked), listening(worker)]);
  await Promise.all([ask(forked, { cmd: 'count', n: 3 }, 'counted'), ask(worker, { cmd: 'count', n: 5 }, 'counted')]);
  assert.equal(await value(metrics, 'test_counted_total', 'forked'), 3);
  assert.equal(await value(metrics, 'test_counted_total', 'cluster'), 5);
  assert.equal(await value(metrics, 'test_counted_total', 'parent'), 1, 'the parent\'s own registry');

  // A cluster worker that got the HTTP scrape asks the parent for the sum (ingest's /metrics).
  const { body } = await ask(worker, { cmd: 'scrape' }, 'scraped');
  for (const child of ['forked', 'cluster', 'parent']) assert.match(body, new RegExp(`^test_counted_total\\{child="${child}"\\} \\d`, 'm'), body);

  // Each collection asks afresh.
  await ask(forked, { cmd: 'count', n: 2 }, 'counted');
  assert.equal(await value(metrics, 'test_counted_total', 'forked'), 5);
  assert.equal(await value(metrics, 'test_in_flight', 'forked'), 2);

  const exited = once(forked, 'exit');
  forked.kill('SIGKILL');
  await exited;
  assert.equal(await value(metrics, 'test_counted_total', 'forked'), 5, 'its counter stays at its last report');
  assert.equal(await value(metrics, 'test_in_flight', 'forked'), undefined, 'its gauge goes with it');
  assert.equal(await value(metrics, 'test_counted_total', 'cluster'), 5);
});

test('a child that does not answer in time counts with its last report; one that never reported is not waited for', { timeout: 60_000 }, async () => {
  const metrics = new ChildProcessMetrics({ answerTimeoutMs: 300 });
  const busy = metrics.track(forkChild('busy'));
  // Still loading, or not reporting at all: a scrape must not wait for it.
  const silent = metrics.track(started(fork('-e', ['setInterval(() => {}, 1000)'], { execArgv: [], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })));
  await listening(busy);
  await ask(busy, { cmd: 'count', n: 4 }, 'counted');
  let since = performance.now();
  assert.equal(await value(metrics, 'test_counted_total', 'busy'), 4);
  assert.ok(performance.now() - since < 250, `answered without waiting for the silent child (${(performance.now() - since).toFixed(0)} ms)`);

  busy.send({ cmd: 'hang', ms: 3_000 } satisfies ChildCommand);
  since = performance.now();
  assert.equal(await value(metrics, 'test_counted_total', 'busy'), 4, 'its last report');
  const waited = performance.now() - since;
  assert.ok(waited >= 250 && waited < 2_000, `waited for the timeout only (${waited.toFixed(0)} ms)`);
  assert.equal(silent.exitCode, null, 'the silent child is still there, only not asked');
});

test('a collection given a shorter wait (the scrape\'s own timeout) answers within it, with a busy child\'s last report', { timeout: 30_000 }, async () => {
  // The timeout of its own is longer than this test may run: only the shorter wait can end it.
  const metrics = new ChildProcessMetrics({ answerTimeoutMs: 120_000 });
  const busy = metrics.track(forkChild('busy'));
  await listening(busy);
  await ask(busy, { cmd: 'count', n: 4 }, 'counted');
  assert.equal(await value(metrics, 'test_counted_total', 'busy'), 4, 'reported while it answers');
  busy.send({ cmd: 'hang', ms: 60_000 } satisfies ChildCommand);
  const { body } = await metrics.scrape(300);
  assert.match(body, /^test_counted_total\{child="busy"\} 4$/m, 'its last report');
});
