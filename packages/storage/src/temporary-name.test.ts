import assert from 'node:assert/strict';
import { basename, dirname, join } from 'node:path';
import { test } from 'node:test';
import { partialName, temporaryPathFor } from './temporary-name.mjs';

test('temporary paths sit next to their target, are unique, and are what listings hide', () => {
  const target = join('/store', 'a', 'b', 'prediction.json');
  const paths = Array.from({ length: 3 }, () => temporaryPathFor(target));
  for (const path of paths) {
    assert.equal(dirname(path), dirname(target));
    assert.match(basename(path), partialName);
    assert.ok(basename(path).startsWith('.prediction.json.'));
  }
  assert.equal(new Set(paths).size, paths.length);
  assert.doesNotMatch('prediction.json', partialName);
});
