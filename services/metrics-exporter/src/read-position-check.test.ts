import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import { createLogger } from '@gradcam/telemetry';
import { createReadPositionCheck } from './read-position-check.ts';
import { usePrivateRedis } from './test-support/private-redis.ts';

const rig = usePrivateRedis();

/** A check of a stream of its own, at a read position the test sets; what it logged and how often it asked to read again. */
function checkOfItsOwn() {
  const eventsKey = `t${randomUUID().slice(0, 8)}:explain:events`;
  const lines: Record<string, unknown>[] = [];
  const log = createLogger({ name: 'metrics-exporter', level: 'info', destination: { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) } });
  const state = { position: undefined as string | undefined, rewritten: 0 };
  const { check } = createReadPositionCheck({ redis: rig.redis, eventsKey, log, position: () => state.position, closing: () => false, onRewritten: () => void state.rewritten++ });
  const add = (id = '*') => rig.redis.xadd(eventsKey, id, 'event', 'added', 'jobId', 'j') as Promise<string>;
  return { eventsKey, lines, state, check, add };
}

test('a stream numbered below the read position while Redis’s clock is below it too (written again, its old ids from a clock ahead) is read again; one only rolled back below it is not', async () => {
  const ahead = checkOfItsOwn();
  ahead.state.position = `${Date.now() + 3_600_000}-0`;
  await ahead.add();
  await ahead.check();
  assert.equal(ahead.state.rewritten, 1);
  assert.ok(ahead.lines.some((line) => /numbered below/.test(String(line.msg))));

  const rolledBack = checkOfItsOwn();
  const kept = await rolledBack.add();
  rolledBack.state.position = await rolledBack.add();
  await rolledBack.check();
  // What Redis holds after a restart from an AOF written up to 'kept': no XDEL recorded.
  await rig.redis.del(rolledBack.eventsKey);
  await rolledBack.add(kept);
  await rolledBack.check();
  assert.equal(rolledBack.state.rewritten, 0, 'the clock numbers its next entries after the position');
  assert.ok(!rolledBack.lines.some((line) => /numbered below/.test(String(line.msg))));
});

test('an event read that the stream lost neither by trimming nor by XDEL is told once; trimmed or deleted, it is not', async () => {
  const { eventsKey, lines, state, check, add } = checkOfItsOwn();
  const told = () => lines.filter((line) => /no longer holds/.test(String(line.msg)));
  state.position = await add();
  await check();
  state.position = await add();
  await rig.redis.xtrim(eventsKey, 'MAXLEN', 1);
  await check();
  await rig.redis.xdel(eventsKey, state.position);
  await check();
  assert.deepEqual(told(), [], 'trimmed, then deleted: nothing lost');
  state.position = await add();
  await check();
  const lost = state.position;
  await rig.redis.del(eventsKey);
  // Written again a millisecond after the lost event: with '*' in the same millisecond the new
  // stream (its last id reset by the DEL) would number its entry as the lost one was, and hold it.
  state.position = await add(`${Number(lost.split('-')[0]) + 1}-0`);
  await check();
  await check();
  await check();
  assert.deepEqual(told().map(({ read }) => read), [lost], 'told once, naming the event read');
  assert.equal(state.rewritten, 0, 'numbered after the position: nothing to read again');
});

test("an erasure deleting (XDEL) the entry the read position names, entries ahead of it and behind it, leaves no loss told and nothing read again, also with the stream emptied", async () => {
  const { eventsKey, lines, state, check, add } = checkOfItsOwn();
  const behind = await add();
  state.position = await add();
  await check();
  const ahead = await add();
  await rig.redis.xdel(eventsKey, behind, ahead);
  await check();
  await rig.redis.xdel(eventsKey, state.position);
  await check();
  await check();
  assert.equal(await rig.redis.xlen(eventsKey), 0, 'the stream emptied');
  state.position = await add();
  await check();
  await check();
  assert.deepEqual(lines.filter((line) => /no longer holds|numbered below/.test(String(line.msg))), []);
  assert.equal(state.rewritten, 0);
});
