import assert from 'node:assert/strict';

/**
 * The value of `gradcam_worker_engine_restarts_total{reason}` in a scrape of the replica's
 * /metrics at `base`, if any; the series must be the supervisor's own (`worker="supervisor"`).
 */
export async function engineRestarts(base: string, reason: string): Promise<number | undefined> {
  const body = await (await fetch(`${base}/metrics`)).text();
  const line = body.split('\n').find((l) => l.startsWith('gradcam_worker_engine_restarts_total{') && l.includes(`reason="${reason}"`));
  if (line === undefined) return undefined;
  assert.ok(line.includes('worker="supervisor"'), line);
  return Number(line.split(' ').at(-1));
}
