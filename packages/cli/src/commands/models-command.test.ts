import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const bin = fileURLToPath(new URL('../../bin/gradcam.js', import.meta.url));
const gradcam = (...args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 120_000 });

// The built-ins' hashes, as builtin-models.test pins them: a version is a label, the hash names the weights.
const weights = {
  'nsfw-mobilenet-v2': '7061dc148211a169135e80aee4022d08ce15df6c9ccf420691afe5932000da54',
  'nsfw-mobilenet-v2-graph': 'e99c1cfb2cc2ab3c2abc05791242671c4ef15012bd58b69ed2ca0c9cabb1cdf8',
  'nsfw-inception-v3': '4cfdf9ef53d8cc4121a579f52eca7ad0644bc38b02d469be24d1689b6f2c47f7',
};

test('gradcam models shows each model\'s weights hash next to its version: short in the listing, whole with --json', () => {
  const json = gradcam('models', '--json');
  assert.equal(json.status, 0, json.stderr);
  const rows = json.stdout.trim().split('\n').map((l) => JSON.parse(l) as { name: string; version: string; weightsSha256: string });
  assert.deepEqual(Object.fromEntries(rows.map((r) => [r.name, r.weightsSha256])), weights);

  const text = gradcam('models');
  assert.equal(text.status, 0, text.stderr);
  for (const row of rows) {
    const line = text.stdout.split('\n').find((l) => l.startsWith(`${row.name} `) || l.startsWith(`${row.name}  `));
    assert.ok(line?.includes(`  ${row.version} (weights ${row.weightsSha256.slice(0, 12)})  `), `${row.name}: ${line ?? text.stdout}`);
  }
});
