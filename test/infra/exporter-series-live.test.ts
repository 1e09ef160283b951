import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { redisKeys } from '@gradcam/contracts';
import { type ServiceMain, startServiceMain } from '@gradcam/dev-services';
import { explainJobFixture } from '@gradcam/queue/test-fixtures';
import { UnrecoverableError } from 'bullmq';
import { eventStreamMetricNames } from '../../services/metrics-exporter/src/pipeline-recorder.ts';
import { startExporterRig } from '../support/exporter-rig.ts';
import { startPrometheus } from '../support/prometheus-server.ts';
import { waitFor } from '../support/wait-for.ts';

// The invariant behind SeriesTaken (counter-reset.ts): while one exporter process runs, a series
// of the event-stream families is shown to Prometheus at 0 once, then at its value, so
// Prometheus never sees one drop (a drop is a reset, and increase() counts the whole value again),
// and stores every count. Jobs complete and fail throughout, new series are born mid-run (a model
// every 40 jobs, a code outside jobFailureCodes every 60), and curls of /metrics come in between
// Prometheus's 1 s scrapes.
test('while one exporter runs under a steady stream of jobs and curls, Prometheus never sees an event-stream series drop, and stores every count', { timeout: 120_000 }, async () => {
  const rig = await startExporterRig(
    async (job) => {
      const n = Number(job.id?.split('-')[1]);
      if (n % 5 === 0) throw new UnrecoverableError(n % 2 === 0 ? 'IMAGE_CORRUPT: not an image' : `NEW_CODE_${Math.floor(n / 60)}: outside jobFailureCodes`);
      const storedAt = Date.now();
      return { model: `model-${Math.floor(n / 40)}`, methods: ['gradcam'], explanations: 1, acceptedAt: storedAt - (n % 7) * 100, storedAt };
    },
    { concurrency: 4 },
  );
  const { redis, prefix, port, env, queue } = rig;
  const families = [...eventStreamMetricNames].join('|');
  const samples = `{__name__=~"(${families})(_bucket|_sum|_count)?"}`;
  const metricsUrl = `http://127.0.0.1:${port}/metrics`;
  let exporter: ServiceMain | undefined;
  const prometheus = await startPrometheus({ 'gradcam-exporter': `127.0.0.1:${port}` });
  try {
    exporter = startServiceMain('services/metrics-exporter/src/main.ts', env);
    await exporter.untilReady(`http://127.0.0.1:${port}/healthz`);
    await waitFor('the exporter to save its start', async () => (await redis.get(redisKeys(prefix).exporterEventsCursor)) ?? undefined, 30_000);
    await waitFor('Prometheus to scrape the exporter', async () => ((await prometheus.query('up'))[0]?.value === 1 ? true : undefined), 30_000);

    // ~25 s: a job every 50 ms, two curl loops at their own pace in between.
    let running = true;
    const curls = [37, 91].map(async (everyMs) => {
      while (running) {
        await (await fetch(metricsUrl)).text();
        await sleep(everyMs);
      }
    });
    const jobs = 500;
    for (let n = 1; n <= jobs; n++) {
      await queue.add('explain', explainJobFixture(`job-${n}`), { jobId: `job-${n}`, removeOnComplete: true, removeOnFail: true });
      await sleep(50);
    }
    await waitFor('the jobs to finish', async () => ((await queue.getJobCountByTypes('wait', 'active', 'delayed')) === 0 ? true : undefined), 30_000);
    running = false;
    await Promise.all(curls);

    // What the exporter counted (a curl sees the counts at once), and Prometheus storing all of it.
    const counted = await waitFor('the exporter to count every job', async () => {
      const body = await (await fetch(metricsUrl)).text();
      const lines = body.split('\n').filter((line) => new RegExp(`^(${families})(_bucket|_sum|_count)?[{ ]`).test(line));
      const explained = lines.filter((line) => line.startsWith('gradcam_images_explained_total{')).reduce((sum, line) => sum + lineValue(line), 0);
      return explained === jobs - jobs / 5 ? lines : undefined;
    }, 30_000);
    assert.ok(counted.some((line) => line.startsWith('gradcam_jobs_failed_total{code="NEW_CODE_8"}')), 'codes born mid-run');
    const stored = async () => new Map((await prometheus.query(samples)).map(({ metric, value }) => [seriesKey(metric), value]));
    let missing: string[] = [];
    await waitFor('Prometheus to store every count', async () => {
      const values = await stored();
      missing = counted.filter((line) => values.get(lineKey(line)) !== lineValue(line)).map((line) => `${line} (stored ${values.get(lineKey(line))})`);
      return missing.length === 0 ? true : undefined;
    }, 30_000).catch(() => undefined);
    assert.deepEqual(missing, [], 'every count stored');

    // Per name: resets() drops it, so _bucket, _sum and _count would collide.
    for (const name of new Set(counted.map((line) => lineKey(line).split('{')[0] as string))) {
      const drops = await prometheus.query(`resets(${name}[10m]) > 0`);
      assert.deepEqual(drops.map(({ metric }) => seriesKey({ ...metric, __name__: name })), [], 'no event-stream series dropped while the exporter ran');
    }
    // The CI symptom (NaN p95 beside a real count): a model's latency at 0 in a scrape whose count of it is above 0.
    const apart = await prometheus.query('count_over_time((gradcam_e2e_latency_seconds_count == 0 and on (model) gradcam_images_explained_total > 0)[10m:1s])');
    assert.deepEqual(apart, [], 'a model counted at its value while its latency was at 0');
  } finally {
    await exporter?.stop();
    await prometheus.stop();
    await rig.close();
  }
});

/** A series as name{labels sorted}, from a query result's labels (job and instance dropped). */
function seriesKey(metric: Record<string, string>): string {
  const { __name__: name, job: _job, instance: _instance, ...labels } = metric;
  return `${name}{${Object.keys(labels).sort().map((k) => `${k}="${labels[k]}"`).join(',')}}`;
}

/** The same key from an exposition line (its labels hold no escaped quotes here). */
function lineKey(line: string): string {
  const series = line.slice(0, line.lastIndexOf(' '));
  const brace = series.indexOf('{');
  const name = brace < 0 ? series : series.slice(0, brace);
  const labels = Object.fromEntries([...series.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
  return seriesKey({ __name__: name, ...labels });
}

const lineValue = (line: string) => Number(line.slice(line.lastIndexOf(' ') + 1));
