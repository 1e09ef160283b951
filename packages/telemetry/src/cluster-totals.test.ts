import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Counter, Gauge, Registry } from 'prom-client';
import { ClusterTotals } from './cluster-totals.ts';

/** One process's metrics as it would report them: `accepted` counted, `inflight` a gauge. */
async function report(accepted: number, inflight: number) {
  const registry = new Registry();
  new Counter({ name: 'accepted_total', help: 'h', registers: [registry] }).inc(accepted);
  new Gauge({ name: 'inflight', help: 'h', registers: [registry], aggregator: 'sum' }).set(inflight);
  return registry.getMetricsAsJSON();
}

async function value(totals: ClusterTotals, name: string): Promise<number | undefined> {
  const metric = (await totals.sum().getMetricsAsJSON()).find((m) => m.name === name);
  return metric?.values[0]?.value;
}

test('an exited process stays counted at its last report, at every moment of the fold, exactly once', async () => {
  const totals = new ClusterTotals();
  totals.reported(1, await report(5, 2));
  totals.reported(2, await report(7, 3));
  assert.equal(await value(totals, 'accepted_total'), 12);

  const folded = totals.exited(1);
  // The fold is asynchronous: a scrape that lands before it completes must not dip.
  assert.equal(await value(totals, 'accepted_total'), 12, 'during the fold');
  await folded;
  assert.equal(await value(totals, 'accepted_total'), 12, 'after the fold');
  // Its gauges go with it: a gone process has nothing in flight.
  assert.equal(await value(totals, 'inflight'), 3);

  // A report that arrives after the exit (a late answer) would count the process twice.
  totals.reported(1, await report(9, 0));
  assert.equal(await value(totals, 'accepted_total'), 12);

  totals.reported(3, await report(1, 0));
  await Promise.all([totals.exited(2), totals.exited(3)]);
  assert.equal(await value(totals, 'accepted_total'), 13, 'two exits close together both folded');
});
