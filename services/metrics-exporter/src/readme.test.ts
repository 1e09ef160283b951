import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { metricCatalog, pipelineMetrics } from '@gradcam/telemetry';

// What an operator reads before wiring dashboards and alerts: the README names what /metrics holds.
const readme = await readFile(new URL('../README.md', import.meta.url), 'utf8');

test('the README names every metric the exporter exports, and no metric that does not exist', () => {
  const missing = Object.values(pipelineMetrics)
    .map((definition) => definition.name)
    .filter((name) => !readme.includes(name));
  assert.deepEqual(missing, [], 'exported but not in the README');
  const known = new Set(metricCatalog.map((definition) => definition.name));
  const unknown = [...new Set(readme.match(/\bgradcam_[a-z0-9_]+/g))].filter((name) => !known.has(name));
  assert.deepEqual(unknown, [], 'named in the README but not in the catalog');
});
