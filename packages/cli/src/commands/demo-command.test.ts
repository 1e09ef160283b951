import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type DemoFile, demoId, planRequests } from './demo-command.ts';

const files = (...bytes: number[]): DemoFile[] => bytes.map((size, index) => ({ path: `/photos/${index}.jpg`, index, bytes: size }));

test('requests stay within the record and byte budgets, in order; an image over the byte budget goes alone', () => {
  const limits = { records: 3, bytes: 10_000 };
  const plan = planRequests(files(100, 100, 100, 100, 3_000, 5_000, 20_000, 100), limits);
  assert.deepEqual(
    plan.map((request) => request.map((f) => f.index)),
    [[0, 1, 2], [3, 4], [5], [6], [7]],
  );
  assert.deepEqual(planRequests([], limits), []);
});

test('ids are unique when two folders hold images of the same name, and fit the 128-character limit', () => {
  const same = [
    { path: '/photos/cats/img1.jpg', index: 0, bytes: 1 },
    { path: '/photos/sheep/img1.jpg', index: 1, bytes: 1 },
  ];
  const ids = same.map((file) => demoId('run', file));
  assert.equal(new Set(ids).size, 2, ids.join(' '));
  assert.match(ids[0] as string, /^demo-run-1-img1$/);
  const long = demoId('run', { path: `/p/${'é'.repeat(200)}.png`, index: 41, bytes: 1 });
  assert.equal(long.length, 128);
  assert.match(long, /^demo-run-42-_+$/);
});
