import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createRegistry } from '@gradcam/telemetry';
import { createIngestTelemetry } from './ingest-telemetry.ts';

test('every record outcome is exported at 0 before the first record, so rate() counts the first duplicate or rejected record', async () => {
  const registry = createRegistry({ defaultMetrics: false });
  const telemetry = createIngestTelemetry(registry);
  let text = await registry.metrics();
  for (const outcome of ['accepted', 'duplicate', 'id_reused', 'rejected']) assert.match(text, new RegExp(`^gradcam_ingest_records_total\\{outcome="${outcome}"\\} 0$`, 'm'));
  telemetry.invalidRecords(2);
  text = await registry.metrics();
  assert.match(text, /^gradcam_ingest_records_total\{outcome="rejected"\} 2$/m);
  assert.match(text, /^gradcam_ingest_records_total\{outcome="accepted"\} 0$/m);
});
