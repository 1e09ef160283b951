import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { stringify } from 'yaml';
import { metricCatalog } from '../../packages/telemetry/src/metric-catalog.ts';
import { environmentOf, loadCompose, readRepoFile, readYaml, serviceOf } from './infra-files.ts';
import { metricNamesIn, metricReferenceProblems, resolveMetric } from './metric-references.ts';
import { promtool } from './prometheus-tools.ts';

interface Target {
  refId: string;
  expr?: string;
  datasource?: { type?: string; uid?: string };
}
interface Panel {
  id: number;
  type: string;
  title: string;
  gridPos: { h: number; w: number; x: number; y: number };
  datasource?: { type?: string; uid?: string };
  targets?: Target[];
}
interface Dashboard {
  uid: string;
  title: string;
  panels: Panel[];
  templating?: { list: { name: string; definition?: string; query?: string | { query?: string }; datasource?: { uid?: string } }[] };
}

const dashboardPath = 'infra/grafana/dashboards/gradcam-pipeline.json';
const dashboard = JSON.parse(readRepoFile(dashboardPath)) as Dashboard;
const panels = dashboard.panels.filter((p) => p.type !== 'row');
const queries = panels.flatMap((panel) => (panel.targets ?? []).map((target) => ({ panel, target, expr: target.expr ?? '' })));
const templateQueries = (dashboard.templating?.list ?? []).map((v) => ({
  name: v.name,
  expr: typeof v.query === 'string' ? v.query : (v.query?.query ?? v.definition ?? ''),
}));
const datasources = (readYaml('infra/grafana/provisioning/datasources/prometheus.yml') as { datasources: { uid: string; type: string; url: string }[] }).datasources;
const compose = loadCompose();

/** What Grafana substitutes before a query reaches Prometheus. */
function asPromQL(expr: string): string {
  return expr
    .replace(/\$__rate_interval|\$__interval|\$__range/g, '5m')
    .replace(/\$\{?model\}?/g, '.*');
}

test('the dashboard parses and every panel queries the provisioned Prometheus', () => {
  assert.equal(dashboard.uid, 'gradcam-pipeline');
  const uid = datasources[0]?.uid;
  assert.equal(datasources[0]?.type, 'prometheus');
  assert.ok(panels.length >= 10);
  for (const panel of panels) {
    assert.ok((panel.targets ?? []).length > 0, `panel "${panel.title}" has no query`);
    assert.equal(panel.datasource?.uid, uid, `panel "${panel.title}": datasource`);
    for (const target of panel.targets ?? []) {
      assert.ok(target.expr, `panel "${panel.title}" ${target.refId}: empty query`);
      assert.equal(target.datasource?.uid, uid, `panel "${panel.title}" ${target.refId}: datasource`);
    }
  }
  assert.equal(new Set(dashboard.panels.map((p) => p.id)).size, dashboard.panels.length, 'panel ids are unique');
});

test('every metric and label a panel or template variable queries is in the metric catalog', () => {
  const problems = [
    ...queries.flatMap(({ panel, target, expr }) => metricReferenceProblems(expr, metricCatalog).map((p) => `"${panel.title}" ${target.refId}: ${p}`)),
    ...templateQueries.flatMap(({ name, expr }) => metricReferenceProblems(expr, metricCatalog).map((p) => `variable ${name}: ${p}`)),
  ];
  assert.deepEqual(problems, []);
});

test('the dashboard covers queue, workers, throughput, latency, failures, explanations, batches, stages, capture and ingest', () => {
  const used = new Set(queries.flatMap(({ expr }) => metricNamesIn(expr).map((name) => resolveMetric(name, metricCatalog)?.definition.name ?? name)));
  const required = [
    'gradcam_queue_jobs',
    'gradcam_workers',
    'gradcam_images_explained_total',
    'gradcam_e2e_latency_seconds',
    'gradcam_jobs_failed_total',
    'gradcam_explanations_total',
    'gradcam_batch_size',
    'gradcam_stage_duration_seconds',
    'gradcam_capture_decisions_total',
    'gradcam_capture_rate',
    'gradcam_capture_confidence_threshold',
    'gradcam_ingest_http_requests_total',
    'gradcam_ingest_http_request_duration_seconds',
  ];
  for (const name of required) assert.ok(used.has(name), `no panel shows ${name}`);
  const latency = queries.filter(({ expr }) => expr.includes('gradcam_e2e_latency_seconds_bucket')).map(({ expr }) => expr);
  for (const q of ['0.50', '0.95', '0.99']) assert.ok(latency.some((e) => e.includes(`histogram_quantile(${q},`)), `no e2e latency p${q}`);
});

test('every panel query is valid PromQL (checked by promtool as recording rules)', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'gradcam-dashboard-'));
  try {
    const rules = queries.map(({ panel, target, expr }) => ({ record: `dashboard:panel_${panel.id}:${target.refId}`, expr: asPromQL(expr) }));
    const path = join(dir, 'dashboard-queries.yml');
    await writeFile(path, stringify({ groups: [{ name: 'dashboard', rules }] }));
    const output = await promtool(['check', 'rules', path]);
    assert.match(output, new RegExp(`SUCCESS: ${rules.length} rules found`));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('panels sit on the 24-column grid without overlapping', () => {
  const cells = new Map<string, string>();
  for (const panel of dashboard.panels) {
    const { x, y, w, h } = panel.gridPos;
    assert.ok(x >= 0 && w > 0 && x + w <= 24, `"${panel.title}" leaves the grid`);
    for (let row = y; row < y + h; row++) {
      for (let col = x; col < x + w; col++) {
        const other = cells.get(`${row}:${col}`);
        assert.equal(other, undefined, `"${panel.title}" overlaps "${other ?? ''}"`);
        cells.set(`${row}:${col}`, panel.title);
      }
    }
  }
});

test('provisioning points at the mounted dashboards and at the compose Prometheus', () => {
  const grafana = serviceOf(compose, 'grafana');
  const mounts = new Map(
    (grafana.volumes ?? []).filter((v): v is string => typeof v === 'string').map((v) => [v.split(':')[0] ?? '', v.split(':')[1] ?? '']),
  );
  assert.equal(mounts.get('./infra/grafana/provisioning'), '/etc/grafana/provisioning');
  const dashboardsDir = mounts.get('./infra/grafana/dashboards');
  assert.ok(dashboardsDir, 'infra/grafana/dashboards is mounted');
  const providers = (readYaml('infra/grafana/provisioning/dashboards/dashboards.yml') as { providers: { type: string; options: { path: string } }[] }).providers;
  assert.ok(providers.some((p) => p.type === 'file' && p.options.path === dashboardsDir), `a file provider reads ${dashboardsDir}`);
  assert.equal(environmentOf(grafana).get('GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH'), `${dashboardsDir}/gradcam-pipeline.json`);

  const url = new URL(datasources[0]?.url ?? '');
  assert.ok(compose.services[url.hostname], `datasource host ${url.hostname} is a compose service`);
  assert.ok((serviceOf(compose, url.hostname).ports ?? []).map(String).some((p) => p.endsWith(`:${url.port}`)), 'on its port');
});

test('"Jobs waiting" counts the backlog as ingest does: waiting, prioritized and paused (a paused queue reports its jobs as paused)', () => {
  const exprs = queries.filter(({ panel }) => panel.title === 'Jobs waiting').map(({ expr }) => expr);
  assert.equal(exprs.length, 1);
  const states = /state=~"([^"]*)"/.exec(exprs[0] ?? '')?.[1]?.split('|').sort();
  assert.deepEqual(states, ['paused', 'prioritized', 'waiting'], exprs[0]);
});
