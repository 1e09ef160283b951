import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { engineShutdown } from './engine-shutdown.ts';
import { memoryCeilingExitCode } from './memory-ceiling.ts';

/** A shutdown whose drain waits until `finish` is called, recording its exits and its lines. */
function rig(timeoutMs = 60_000) {
  let finish!: () => void;
  const drained = new Promise<void>((resolve) => (finish = resolve));
  const exits: number[] = [];
  const lines: string[] = [];
  let drains = 0;
  const shutdown = engineShutdown({
    timeoutMs,
    drain: () => ((drains += 1), drained),
    exit: (code) => void exits.push(code),
    log: { info: (m) => void lines.push(m), error: (m) => void lines.push(`error: ${m}`) },
  });
  return { shutdown, finish, exits, lines, drains: () => drains };
}

test('a drain at the memory ceiling exits 76 (the supervisor restarts it as memory_ceiling); a stop asked for exits 0', async () => {
  const ceiling = rig();
  const done = ceiling.shutdown('memory ceiling', memoryCeilingExitCode);
  ceiling.finish();
  await done;
  assert.deepEqual(ceiling.exits, [memoryCeilingExitCode]);

  const stop = rig();
  const stopped = stop.shutdown('SIGTERM');
  stop.finish();
  await stopped;
  assert.deepEqual(stop.exits, [0]);
});

test('SIGTERM while the process drains at its memory ceiling (a rollout, the replica stopping): one drain, and it exits 0, since a supervisor that is stopping counts any other code as a drain that failed (and the replica exits 1)', async () => {
  const { shutdown, finish, exits, drains } = rig();
  const atCeiling = shutdown('memory ceiling', memoryCeilingExitCode);
  await shutdown('SIGTERM');
  finish();
  await atCeiling;
  assert.equal(drains(), 1);
  assert.deepEqual(exits, [0]);
});

test('the memory ceiling reached while the process drains for SIGTERM changes nothing: it exits 0', async () => {
  const { shutdown, finish, exits, drains } = rig();
  const stopping = shutdown('SIGTERM');
  await shutdown('memory ceiling', memoryCeilingExitCode);
  finish();
  await stopping;
  assert.equal(drains(), 1);
  assert.deepEqual(exits, [0]);
});

test('a drain past its deadline exits 1, saying so, whatever asked for it', async () => {
  const { shutdown, exits, lines } = rig(20);
  void shutdown('memory ceiling', memoryCeilingExitCode);
  await sleep(100);
  assert.deepEqual(exits, [1]);
  assert.match(lines.at(-1) ?? '', /^error: memory ceiling: not closed after 20 ms/);
});
