import assert from 'node:assert/strict';
import { readFile, readdir } from 'node:fs/promises';
import { test } from 'node:test';
import * as config from './index.ts';

// The README is the reference operators and the top-level README point to for every variable.
const readme = await readFile(new URL('../README.md', import.meta.url), 'utf8');
const sources = await Promise.all(
  (await readdir(new URL('.', import.meta.url)))
    .filter((name) => name.endsWith('.ts') && !name.endsWith('.test.ts'))
    .map((name) => readFile(new URL(name, import.meta.url), 'utf8')),
);

test('the README names every variable the package reads', () => {
  const read = new Set(sources.flatMap((source) => [...source.matchAll(/'((?:GRADCAM|S3)_[A-Z0-9_]+|REDIS_URL|LOG_LEVEL)'/g)].map((match) => match[1] as string)));
  assert.ok(read.size > 30, `found only ${read.size} variables`);
  assert.deepEqual([...read].filter((name) => !new RegExp(`\\b${name}\\b`).test(readme)).sort(), []);
});

test("every function and class in the README's Public API is exported by the package", () => {
  const api = /## Public API\n+```ts\n([\s\S]*?)```/.exec(readme)?.[1];
  assert.ok(api !== undefined, 'README has no Public API block');
  const named = [...api.matchAll(/^\s*(?:function|class)\s+(\w+)|;\s*function\s+(\w+)/gm)].map((match) => (match[1] ?? match[2]) as string);
  assert.ok(named.length > 10, `found only ${named.length} names`);
  assert.deepEqual(named.filter((name) => !(name in config)), []);
});
