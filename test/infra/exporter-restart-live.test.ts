import assert from 'node:assert/strict';
import { test } from 'node:test';
import { redisKeys } from '@gradcam/contracts';
import { type ServiceMain, startOutageProxy, startServiceMain } from '@gradcam/dev-services';
import { explainJobFixture } from '@gradcam/queue/test-fixtures';
import { UnrecoverableError } from 'bullmq';
import { startExporterRig } from '../support/exporter-rig.ts';
import { startPrometheus } from '../support/prometheus-server.ts';
import { waitFor } from '../support/wait-for.ts';

// A real Prometheus over an exporter restart: the restarted exporter replays the failures of its
// gap from its cursor, and increase() must count them all, also when its counter comes back at or
// above the value Prometheus stored from the process before (which reads as a rise, not a reset).
test('increase() over an exporter restart counts every failure: the gap replayed before Prometheus scrapes the new process is counted whole', { timeout: 120_000 }, async () => {
  const rig = await startExporterRig(() => Promise.reject(new UnrecoverableError('IMAGE_CORRUPT: not an image')));
  const { redis, prefix, port, env, queue } = rig;
  // Prometheus scrapes through this proxy: cut while the exporter restarts, as a scrape of a
  // process that is away fails, and opened once the new one has counted its gap (a plain curl says
  // when), so its first scrape comes after the replay whatever the machine's speed.
  const proxy = await startOutageProxy(port);
  // A stable code: its series is born at 0, so Prometheus has it from the first scrape.
  const series = 'gradcam_jobs_failed_total{code="IMAGE_CORRUPT"}';
  const failed = async (jobId: string) => {
    await queue.add('explain', explainJobFixture(jobId), { jobId });
    await waitFor(`job ${jobId} to fail`, async () => ((await queue.getJobState(jobId)) === 'failed' ? true : undefined), 15_000);
  };
  let exporter: ServiceMain | undefined;
  const prometheus = await startPrometheus({ 'gradcam-exporter': `127.0.0.1:${proxy.port}` });
  const stored = async () => (await prometheus.query(series))[0]?.value;
  try {
    exporter = startServiceMain('services/metrics-exporter/src/main.ts', env);
    await exporter.untilReady(`http://127.0.0.1:${port}/healthz`);
    await waitFor('the exporter to save its start', async () => (await redis.get(redisKeys(prefix).exporterEventsCursor)) ?? undefined, 30_000);
    await waitFor('Prometheus to store the counter at 0', async () => ((await stored()) === 0 ? true : undefined), 30_000);
    await failed('bad-1');
    await waitFor('Prometheus to store the first failure', async () => ((await stored()) === 1 ? true : undefined), 30_000);

    proxy.cut();
    await exporter.stop();
    await failed('bad-2');
    await failed('bad-3');
    exporter = startServiceMain('services/metrics-exporter/src/main.ts', env);
    await exporter.untilReady(`http://127.0.0.1:${port}/healthz`);
    await waitFor('the restarted exporter to count its gap', async () => {
      const body = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      return body.split('\n').includes(`${series} 2`) ? true : undefined;
    }, 30_000);
    proxy.restore();
    await waitFor('Prometheus to store the gap', async () => ((await stored()) === 2 ? true : undefined), 30_000);

    const [resets] = await prometheus.query(`resets(${series}[10m])`);
    assert.equal(resets?.value, 1, 'the restart is seen as a counter reset');
    // increase() only ever extrapolates upwards here (the series starts at 0): 3 at least, where a
    // restart read as a rise from 1 to 2 gives 2 and a little.
    const [increase] = await prometheus.query(`increase(${series}[10m])`);
    assert.ok((increase?.value ?? 0) >= 3, `increase() ${increase?.value}: bad-1, bad-2 and bad-3 are 3 failures`);
  } finally {
    await exporter?.stop();
    await prometheus.stop();
    await proxy.close();
    await rig.close();
  }
});

// A real Prometheus over a series born while it scrapes: the first failure with a code outside
// jobFailureCodes (not born at 0) makes a series whose first sample would be 1, and increase()
// takes a series' first sample as its start; the exporter shows it at 0 in the first answer
// Prometheus takes of it, so that failure is counted.
test("increase() counts a new failure code's first failure, after Prometheus is already scraping the exporter", { timeout: 120_000 }, async () => {
  const rig = await startExporterRig(() => Promise.reject(new UnrecoverableError('DISK_FULL: no space left on device')));
  const { redis, prefix, port, env, queue } = rig;
  const stable = 'gradcam_jobs_failed_total{code="IMAGE_CORRUPT"}';
  const series = 'gradcam_jobs_failed_total{code="DISK_FULL"}';
  let exporter: ServiceMain | undefined;
  const prometheus = await startPrometheus({ 'gradcam-exporter': `127.0.0.1:${port}` });
  const stored = async (name: string) => (await prometheus.query(name))[0]?.value;
  try {
    exporter = startServiceMain('services/metrics-exporter/src/main.ts', env);
    await exporter.untilReady(`http://127.0.0.1:${port}/healthz`);
    await waitFor('the exporter to save its start', async () => (await redis.get(redisKeys(prefix).exporterEventsCursor)) ?? undefined, 30_000);
    await waitFor('Prometheus to scrape the exporter', async () => ((await stored(stable)) === 0 ? true : undefined), 30_000);
    await queue.add('explain', explainJobFixture('bad-1'), { jobId: 'bad-1' });
    await waitFor('job bad-1 to fail', async () => ((await queue.getJobState('bad-1')) === 'failed' ? true : undefined), 15_000);
    await waitFor('Prometheus to store the new code', async () => ((await stored(series)) === 1 ? true : undefined), 30_000);
    // increase() takes two samples at least: a few more at 1.
    await waitFor('Prometheus to store the new code three times', async () => ((await stored(`count_over_time(${series}[10m])`)) ?? 0) >= 3 ? true : undefined, 30_000);

    const [increase] = await prometheus.query(`increase(${series}[10m])`);
    assert.ok((increase?.value ?? 0) >= 1, `increase() ${increase?.value}: bad-1 is 1 failure (a series whose first sample is 1 gives 0)`);
  } finally {
    await exporter?.stop();
    await prometheus.stop();
    await rig.close();
  }
});
