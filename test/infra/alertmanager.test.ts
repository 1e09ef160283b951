import assert from 'node:assert/strict';
import { type IncomingMessage, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { parse, stringify } from 'yaml';
import { type AlertmanagerServer, startAlertmanager } from '../support/alertmanager-server.ts';
import { waitFor } from '../support/wait-for.ts';
import { loadCompose, readRepoFile, readYaml, serviceOf } from './infra-files.ts';
import { amtool } from './prometheus-tools.ts';

// The compose stack's Alertmanager (infra/alertmanager/alertmanager.yml): checked by amtool, its
// inhibit rules checked against alerts.yml, and run for real: alerts posted as Prometheus posts
// them, the symptoms of a firing cause held back, the rest delivered to a webhook.

const configPath = 'infra/alertmanager/alertmanager.yml';

interface InhibitRule {
  source_matchers: string[];
  target_matchers: string[];
  equal?: string[];
}

test('amtool check-config accepts alertmanager.yml', async () => {
  const output = await amtool(['check-config', configPath]);
  assert.match(output, /SUCCESS/);
});

test('every alert an inhibit rule names is an alert of alerts.yml, and each rule keeps to one stack', () => {
  const alerts = new Set((readYaml('infra/prometheus/alerts.yml') as { groups: { rules: { alert: string }[] }[] }).groups.flatMap((g) => g.rules.map((r) => r.alert)));
  const rules = (readYaml(configPath) as { inhibit_rules: InhibitRule[] }).inhibit_rules;
  assert.ok(rules.length > 0);
  for (const rule of rules) {
    for (const matchers of [rule.source_matchers, rule.target_matchers]) {
      // alertname="A" or alertname=~"A|B": each alternative must be an alert's name, so a renamed alert cannot leave a rule matching nothing.
      const byName = matchers.filter((matcher) => matcher.startsWith('alertname'));
      assert.equal(byName.length, 1, `${matchers.join(', ')}: one alertname matcher`);
      for (const matcher of byName) {
        const names = /^alertname=~?"([\w|]+)"$/.exec(matcher)?.[1]?.split('|');
        assert.ok(names, `${matcher}: match alerts by alertname, as a plain list of names`);
        for (const name of names) assert.ok(alerts.has(name), `${matcher}: ${name} is not an alert of infra/prometheus/alerts.yml`);
      }
    }
    assert.deepEqual(rule.equal, ['stack'], 'a cause in one stack holds back nothing of another (Prometheus labels every alert with its stack)');
  }
});

test("Prometheus sends its alerts to the compose stack's Alertmanager, which runs this configuration", () => {
  const prometheus = readYaml('infra/prometheus/prometheus.yml') as { alerting?: { alertmanagers: { static_configs: { targets: string[] }[] }[] }; global: { external_labels?: Record<string, string> } };
  assert.deepEqual(prometheus.alerting?.alertmanagers.flatMap((a) => a.static_configs.flatMap((c) => c.targets)), ['alertmanager:9093']);
  assert.ok(prometheus.global.external_labels?.stack, 'the inhibit rules keep to one stack by its `stack` label');
  const service = serviceOf(loadCompose(), 'alertmanager');
  assert.ok((service.volumes ?? []).map(String).includes('./infra/alertmanager:/etc/alertmanager:ro'));
  assert.ok((service.command as string[]).includes('--config.file=/etc/alertmanager/alertmanager.yml'));
});

test('a real Alertmanager holds back the symptoms of a firing cause, of its own stack only, and delivers the rest', { timeout: 120_000 }, async () => {
  const received: Record<string, string>[] = [];
  const webhook = createServer((request: IncomingMessage, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { alerts: { labels: Record<string, string> }[] };
      received.push(...body.alerts.map((a) => a.labels));
      response.end();
    });
  });
  await new Promise<void>((resolve) => webhook.listen(0, '127.0.0.1', resolve));
  // The repository's configuration as it is, with a webhook as the receiver's integration.
  const config = parse(readRepoFile(configPath)) as { receivers: { name: string; webhook_configs?: unknown[] }[] };
  for (const receiver of config.receivers) receiver.webhook_configs = [{ url: `http://127.0.0.1:${(webhook.address() as AddressInfo).port}/`, send_resolved: false }];
  let alertmanager: AlertmanagerServer | undefined;
  try {
    alertmanager = await startAlertmanager(stringify(config));
    const alert = (alertname: string, labels: Record<string, string>) => ({ labels: { alertname, severity: 'critical', ...labels }, annotations: { summary: alertname } });
    const posted = {
      storageDown: alert('GradcamStorageDown', { stack: 'gradcam', job: 'gradcam-exporter', instance: 'metrics-exporter:9464', code: 'STORAGE_UNAVAILABLE' }),
      ingestFailing: alert('GradcamIngestFailing', { stack: 'gradcam', job: 'gradcam-ingest' }),
      notDraining: alert('GradcamQueueNotDraining', { stack: 'gradcam' }),
      workerDown: alert('GradcamWorkerDown', { stack: 'gradcam', severity: 'warning', job: 'gradcam-worker', instance: '172.18.0.8:9465' }),
      // Another stack: its ingest failing is its own, not this storage outage's symptom.
      otherIngestFailing: alert('GradcamIngestFailing', { stack: 'other', job: 'gradcam-ingest' }),
      // One replica unable to store leaves the backlog alerts to say whether the rest keep up.
      otherCannotStore: alert('GradcamWorkersCannotStore', { stack: 'other', instance: '172.18.0.9:9465', code: 'STORAGE_ACCESS_DENIED' }),
      otherBacklog: alert('GradcamQueueBacklogGrowing', { stack: 'other', severity: 'warning' }),
    };
    const response = await fetch(`${alertmanager.url}/api/v2/alerts`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(Object.values(posted)) });
    assert.equal(response.status, 200, await response.text());

    const key = (labels: Record<string, string>) => `${labels.alertname}/${labels.stack}`;
    const held = new Set([key(posted.ingestFailing.labels), key(posted.notDraining.labels)]);
    const states = await waitFor('Alertmanager to list the 7 alerts', async () => {
      const listed = (await (await fetch(`${alertmanager?.url}/api/v2/alerts`)).json()) as { labels: Record<string, string>; status: { state: string; inhibitedBy: string[] } }[];
      return listed.length === 7 ? new Map(listed.map((a) => [key(a.labels), a.status])) : undefined;
    }, 10_000);
    for (const [name, status] of states) {
      if (held.has(name)) assert.equal(status.state, 'suppressed', `${name} is held back`), assert.equal(status.inhibitedBy.length, 1, name);
      else assert.deepEqual(status, { ...status, state: 'active', inhibitedBy: [] }, `${name} is not held back`);
    }

    // Each group is sent once its group_wait (30 s) is over; the ones held back never are.
    const delivered = new Set(Object.values(posted).map((a) => key(a.labels)).filter((name) => !held.has(name)));
    await waitFor('the webhook to receive the 5 alerts not held back', async () => (new Set(received.map(key)).size >= delivered.size ? true : undefined), 60_000);
    await sleep(2_000);
    assert.deepEqual(new Set(received.map(key)), delivered);
  } finally {
    await alertmanager?.stop();
    await new Promise((resolve) => webhook.close(resolve));
  }
});

// STORAGE_NOT_FOUND is the exporter's probe object missing where the exporter looks (its storage
// settings differ from the services', or it was deleted): the services may use the store as ever,
// so ingest failing or the queue stalling beside it has a cause of its own. Held back, they stayed
// silent for as long as that alert fired, or was silenced (a silenced source still inhibits).
test("GradcamStorageDown for a missing probe object (STORAGE_NOT_FOUND) holds back nothing: it says the exporter's probe looks elsewhere, not that the store is down", { timeout: 60_000 }, async () => {
  const alertmanager = await startAlertmanager(readRepoFile(configPath));
  try {
    const alert = (alertname: string, labels: Record<string, string>) => ({ labels: { alertname, stack: 'gradcam', severity: 'critical', ...labels } });
    const posted = [
      alert('GradcamStorageDown', { job: 'gradcam-exporter', instance: 'metrics-exporter:9464', code: 'STORAGE_NOT_FOUND' }),
      alert('GradcamIngestFailing', { job: 'gradcam-ingest' }),
      alert('GradcamQueueNotDraining', {}),
    ];
    const response = await fetch(`${alertmanager.url}/api/v2/alerts`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(posted) });
    assert.equal(response.status, 200, await response.text());
    const states = await waitFor('Alertmanager to list the 3 alerts', async () => {
      const listed = (await (await fetch(`${alertmanager.url}/api/v2/alerts`)).json()) as { labels: Record<string, string>; status: { state: string; inhibitedBy: string[] } }[];
      return listed.length === 3 ? new Map(listed.map((a) => [a.labels.alertname, a.status])) : undefined;
    }, 10_000);
    for (const [name, status] of states) assert.deepEqual({ state: status.state, inhibitedBy: status.inhibitedBy }, { state: 'active', inhibitedBy: [] }, `${name} is not held back`);
  } finally {
    await alertmanager.stop();
  }
});
