import { copyFile, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '@gradcam/dev-services';
import { startServerProcess } from './server-process.ts';

export interface PrometheusServer {
  readonly url: string;
  /** Instant query; the result vector's values as numbers, by the given label. */
  query(expression: string): Promise<{ metric: Record<string, string>; value: number }[]>;
  stop(): Promise<void>;
}

/**
 * A real Prometheus (Debian's `prometheus` package) scraping the given targets every second;
 * `rules`: a rule file (e.g. infra/prometheus/alerts.yml) it evaluates every second.
 */
export async function startPrometheus(targets: Record<string, string>, options: { rules?: string } = {}): Promise<PrometheusServer> {
  const dir = await mkdtemp(join(tmpdir(), 'gradcam-prometheus-'));
  const scrapeConfigs = Object.entries(targets)
    .map(([job, target]) => `  - job_name: ${job}\n    scrape_interval: 1s\n    static_configs:\n      - targets: ['${target}']`)
    .join('\n');
  if (options.rules !== undefined) await copyFile(options.rules, join(dir, 'rules.yml'));
  const rules = options.rules === undefined ? '' : '  evaluation_interval: 1s\nrule_files:\n  - rules.yml\n';
  await writeFile(join(dir, 'prometheus.yml'), `global:\n  scrape_interval: 1s\n${rules}scrape_configs:\n${scrapeConfigs}\n`);
  const port = await freePort();
  const server = await startServerProcess(
    'prometheus',
    [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`],
    { debianPackage: 'prometheus', url: `http://127.0.0.1:${port}`, dir },
  );
  const { url } = server;
  return {
    url,
    async query(expression) {
      const response = await fetch(`${url}/api/v1/query?query=${encodeURIComponent(expression)}`);
      const body = (await response.json()) as { data: { result: { metric: Record<string, string>; value: [number, string] }[] } };
      return body.data.result.map((r) => ({ metric: r.metric, value: Number(r.value[1]) }));
    },
    stop: () => server.stop(),
  };
}
