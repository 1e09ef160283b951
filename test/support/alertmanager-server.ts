import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '@gradcam/dev-services';
import { type ServerProcess, startServerProcess } from './server-process.ts';

export type AlertmanagerServer = ServerProcess;

/**
 * A real Alertmanager (Debian's `prometheus-alertmanager` package, whose binary is named so) on a
 * free loopback port with the given configuration (YAML text), its gossip cluster off.
 */
export async function startAlertmanager(config: string): Promise<AlertmanagerServer> {
  const dir = await mkdtemp(join(tmpdir(), 'gradcam-alertmanager-'));
  await writeFile(join(dir, 'alertmanager.yml'), config);
  const port = await freePort();
  return startServerProcess(
    'prometheus-alertmanager',
    [`--config.file=${join(dir, 'alertmanager.yml')}`, `--storage.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--cluster.listen-address='],
    { debianPackage: 'prometheus-alertmanager', url: `http://127.0.0.1:${port}`, dir },
  );
}
