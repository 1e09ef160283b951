import assert from 'node:assert/strict';
import { test } from 'node:test';
import { metricCatalog } from '../../packages/telemetry/src/metric-catalog.ts';
import { environmentOf, loadCompose, readYaml, serviceOf } from './infra-files.ts';
import { metricMentionProblems, metricReferenceProblems } from './metric-references.ts';
import { ToolNotFoundError, promtool } from './prometheus-tools.ts';

interface AlertRule {
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
interface RulesFile {
  groups: { name: string; rules: AlertRule[] }[];
}
interface ScrapeConfig {
  job_name: string;
  static_configs?: { targets: string[] }[];
  dns_sd_configs?: { names: string[]; type?: string; port?: number }[];
}
interface PrometheusConfig {
  rule_files?: string[];
  scrape_configs: ScrapeConfig[];
}

const configPath = 'infra/prometheus/prometheus.yml';
const alertsPath = 'infra/prometheus/alerts.yml';
const alertTestsPath = 'infra/prometheus/alerts.test.yml';
const config = readYaml(configPath) as PrometheusConfig;
const rules = (readYaml(alertsPath) as RulesFile).groups.flatMap((g) => g.rules);
const compose = loadCompose();

test('promtool check config accepts prometheus.yml and its rule files', async () => {
  const output = await promtool(['check', 'config', configPath]);
  assert.match(output, /SUCCESS/);
});

test('promtool check rules accepts alerts.yml', async () => {
  const output = await promtool(['check', 'rules', alertsPath]);
  assert.match(output, new RegExp(`SUCCESS: ${rules.length} rules found`));
});

test('promtool test rules: every alert fires on its faulty series and stays silent on a healthy one', async () => {
  const output = await promtool(['test', 'rules', alertTestsPath]);
  assert.match(output, /SUCCESS/);
  const tests = (readYaml(alertTestsPath) as { tests: { alert_rule_test?: { alertname: string; exp_alerts: unknown[] }[] }[] }).tests;
  const cases = tests.flatMap((t) => t.alert_rule_test ?? []);
  for (const rule of rules.filter((r) => r.alert)) {
    const own = cases.filter((c) => c.alertname === rule.alert);
    assert.ok(own.some((c) => c.exp_alerts.length > 0), `${rule.alert}: no test shows it firing`);
    assert.ok(own.some((c) => c.exp_alerts.length === 0), `${rule.alert}: no test shows it silent`);
  }
});

test('a missing promtool fails with the command that installs it', async () => {
  await assert.rejects(promtool(['--version'], { executable: 'promtool-that-does-not-exist' }), (error: unknown) => {
    assert.ok(error instanceof ToolNotFoundError);
    assert.match(error.message, /apt-get install -y prometheus/);
    return true;
  });
});

test('the required alerts exist, each with a severity, a summary and a description', () => {
  const names = rules.map((r) => r.alert);
  for (const required of ['GradcamQueueBacklogGrowing', 'GradcamExplainFailureRatioHigh', 'GradcamE2ELatencyP95High', 'GradcamNoWorkers', 'GradcamIngestDown']) {
    assert.ok(names.includes(required), `missing alert ${required}`);
  }
  assert.equal(new Set(names).size, names.length, 'alert names are unique');
  for (const rule of rules) {
    assert.ok(rule.alert, `only alerting rules here (found record ${rule.record ?? '?'})`);
    assert.match(rule.labels?.severity ?? '', /^(critical|warning|info)$/, `${rule.alert}: severity`);
    assert.ok((rule.annotations?.summary ?? '').length > 10, `${rule.alert}: summary`);
    assert.ok((rule.annotations?.description ?? '').length > 30, `${rule.alert}: description`);
    assert.match(rule.for ?? '', /^\d+[smh]$/, `${rule.alert}: a 'for' duration, so one bad scrape does not page`);
  }
});

test('alert expressions and annotations use only catalog metrics and their labels', () => {
  const problems = rules.flatMap((rule) => [
    ...metricReferenceProblems(rule.expr, metricCatalog),
    ...Object.values(rule.annotations ?? {}).flatMap((text) => metricMentionProblems(text, metricCatalog)),
  ].map((p) => `${rule.alert ?? rule.record ?? '?'}: ${p}`));
  assert.deepEqual(problems, []);
});

test('every job an alert names is scraped', () => {
  const jobs = new Set(config.scrape_configs.map((s) => s.job_name));
  for (const rule of rules) {
    for (const [, job = ''] of rule.expr.matchAll(/job\s*=\s*"([^"]*)"/g)) assert.ok(jobs.has(job), `${rule.alert}: job "${job}" is not in ${configPath}`);
  }
});

test('scrape targets are the compose services on the ports they listen on', () => {
  const job = (name: string) => {
    const found = config.scrape_configs.find((s) => s.job_name === name);
    assert.ok(found, `no scrape job ${name}`);
    return found;
  };
  const exporterPort = environmentOf(serviceOf(compose, 'metrics-exporter')).get('GRADCAM_EXPORTER_PORT');
  assert.deepEqual(job('gradcam-exporter').static_configs?.[0]?.targets, [`metrics-exporter:${exporterPort}`]);

  const expectDns = (jobName: string, service: string, portVariable: string) => {
    const sd = job(jobName).dns_sd_configs?.[0];
    assert.deepEqual(sd?.names, [service]);
    assert.equal(sd.type, 'A', 'A records: one target per replica');
    assert.equal(String(sd.port), environmentOf(serviceOf(compose, service)).get(portVariable), `${jobName}: port`);
  };
  expectDns('gradcam-ingest', 'ingest', 'GRADCAM_INGEST_PORT');
  expectDns('gradcam-worker', 'worker', 'GRADCAM_WORKER_METRICS_PORT');
});

test('the worker job scrapes one port per replica: the supervisor answers for all of its engine processes', () => {
  const job = config.scrape_configs.find((s) => s.job_name === 'gradcam-worker');
  // Before, process i had its own port and the job listed 9465-9468: down targets for processes a
  // replica did not run, and edits for more than four.
  assert.equal(job?.dns_sd_configs?.length, 1, 'one discovery entry, so one target per replica');
  assert.equal(job?.static_configs, undefined);
});

test('the Prometheus container mounts this folder where its command looks for the config', () => {
  const prometheus = serviceOf(compose, 'prometheus');
  assert.ok((prometheus.volumes ?? []).includes('./infra/prometheus:/etc/prometheus:ro'));
  assert.ok((prometheus.command as string[]).includes('--config.file=/etc/prometheus/prometheus.yml'));
  assert.deepEqual(config.rule_files, ['alerts.yml'], 'relative to the config file: works in the container and for promtool here');
});
