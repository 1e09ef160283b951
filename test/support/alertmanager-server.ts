import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '@gradcam/dev-services';
import { stopChild } from './prometheus-server.ts';
import { waitFor } from './wait-for.ts';

export interface AlertmanagerServer {
  readonly url: string;
  stop(): Promise<void>;
}

/**
 * A real Alertmanager (Debian's `prometheus-alertmanager` package, whose binary is named so) on a
 * free loopback port with the given configuration (YAML text), its gossip cluster off.
 */
export async function startAlertmanager(config: string): Promise<AlertmanagerServer> {
  const dir = await mkdtemp(join(tmpdir(), 'gradcam-alertmanager-'));
  await writeFile(join(dir, 'alertmanager.yml'), config);
  const port = await freePort();
  const child: ChildProcess = spawn(
    'prometheus-alertmanager',
    [`--config.file=${join(dir, 'alertmanager.yml')}`, `--storage.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--cluster.listen-address='],
    { stdio: 'ignore' },
  );
  let failure: string | undefined;
  child.once('error', (error) => (failure ??= `could not start prometheus-alertmanager (apt-get install -y prometheus-alertmanager): ${error.message}`));
  child.once('exit', (code, signal) => (failure ??= `prometheus-alertmanager exited (${signal ?? `code ${code}`}) before it was ready`));
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitFor('Alertmanager to be ready', async () => (failure !== undefined || (await fetch(`${url}/-/ready`)).ok ? true : undefined), 30_000);
    if (failure !== undefined) throw new Error(failure);
  } catch (error) {
    await stopChild(child);
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    url,
    async stop() {
      await stopChild(child);
      await rm(dir, { recursive: true, force: true });
    },
  };
}
