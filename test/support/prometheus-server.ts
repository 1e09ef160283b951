import { type ChildProcess, spawn } from 'node:child_process';
import { copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '@gradcam/dev-services';
import { waitFor } from './wait-for.ts';

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
  const child: ChildProcess = spawn(
    'prometheus',
    [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`],
    { stdio: 'ignore' },
  );
  // Why it cannot be ready: the binary is missing, or it exited (a bad config, the port taken).
  let failure: string | undefined;
  child.once('error', (error) => (failure ??= `could not start prometheus (apt-get install -y prometheus): ${error.message}`));
  child.once('exit', (code, signal) => (failure ??= `prometheus exited (${signal ?? `code ${code}`}) before it was ready`));
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitFor('Prometheus to be ready', async () => (failure !== undefined || (await fetch(`${url}/-/ready`)).ok ? true : undefined), 30_000);
    if (failure !== undefined) throw new Error(failure);
  } catch (error) {
    // Not ready in time, or gone: leave no process and no temporary directory behind.
    await stopChild(child);
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    url,
    async query(expression) {
      const response = await fetch(`${url}/api/v1/query?query=${encodeURIComponent(expression)}`);
      const body = (await response.json()) as { data: { result: { metric: Record<string, string>; value: [number, string] }[] } };
      return body.data.result.map((r) => ({ metric: r.metric, value: Number(r.value[1]) }));
    },
    async stop() {
      await stopChild(child);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** SIGTERM, then SIGKILL after 10 s; resolves once the process is gone (at once if it never started). */
export async function stopChild(child: ChildProcess): Promise<void> {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}
