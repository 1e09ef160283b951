import { type ChildProcess, spawn } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { waitFor } from './wait-for.ts';

/** A Prometheus-family server a test started (Prometheus, Alertmanager): where it answers, and its stop. */
export interface ServerProcess {
  readonly url: string;
  /** SIGTERM (SIGKILL after 10 s), then its temporary folder removed. */
  stop(): Promise<void>;
}

/**
 * Runs a server of Debian's `debianPackage` whose files live in `dir`, and waits until `url`
 * answers `/-/ready`. Should it not (the binary missing, a bad configuration, the port taken), it
 * rejects with why and leaves no process and no folder behind.
 */
export async function startServerProcess(command: string, args: readonly string[], options: { debianPackage: string; url: string; dir: string }): Promise<ServerProcess> {
  const { url, dir } = options;
  const child: ChildProcess = spawn(command, [...args], { stdio: 'ignore' });
  let failure: string | undefined;
  child.once('error', (error) => (failure ??= `could not start ${command} (apt-get install -y ${options.debianPackage}): ${error.message}`));
  child.once('exit', (code, signal) => (failure ??= `${command} exited (${signal ?? `code ${code}`}) before it was ready`));
  const stop = async () => {
    await stopChild(child);
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await waitFor(`${command} to be ready`, async () => (failure !== undefined || (await fetch(`${url}/-/ready`)).ok ? true : undefined), 30_000);
    if (failure !== undefined) throw new Error(failure);
  } catch (error) {
    await stop();
    throw error;
  }
  return { url, stop };
}

/** SIGTERM, then SIGKILL after 10 s; resolves once the process is gone (at once if it never started). */
async function stopChild(child: ChildProcess): Promise<void> {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}
