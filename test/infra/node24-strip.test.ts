import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

// The app image (infra/docker/Dockerfile, Node 24) runs ingest, review and the metrics exporter as
// `node services/<name>/src/main.ts`: Node strips the types itself, no tsx. CI and development run
// Node 20, which cannot, so this runs a Node 24 (scripts/with-node.sh fetches it from the npm
// registry, cached) over the sources as the image has them.
const root = fileURLToPath(new URL('../../', import.meta.url));
const node24 = (args: readonly string[], env: NodeJS.ProcessEnv = process.env) =>
  spawnSync('bash', ['scripts/with-node.sh', '24', 'node', ...args], { cwd: root, env, encoding: 'utf8', timeout: 240_000 });

test('every TypeScript source strips as Node 24 runs it (no enum, parameter property or namespace)', { timeout: 300_000 }, () => {
  const run = node24(['scripts/check-strip-types.mjs']);
  assert.equal(run.status, 0, `${run.stdout}${run.stderr}`);
  assert.match(run.stdout, /^(\d+) of \1 TypeScript files strip as Node runs them$/m);
});

test("each service of the app image loads its whole module graph on Node 24 without tsx: it gets as far as reading its configuration", { timeout: 300_000 }, () => {
  // No configuration: each main imports everything, then stops at its first required variable, exit 78.
  const env = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '' };
  for (const service of ['ingest', 'review', 'metrics-exporter']) {
    const run = node24([`services/${service}/src/main.ts`], env);
    assert.equal(run.status, 78, `${service}: ${run.stdout}${run.stderr}`);
    assert.match(`${run.stdout}${run.stderr}`, new RegExp(`^${service}: configuration error: [A-Z_]+: `, 'm'), service);
  }
});
