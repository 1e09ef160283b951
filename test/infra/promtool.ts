import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { repoRoot } from './infra-files.ts';

const execFileAsync = promisify(execFile);

export class PromtoolNotFoundError extends Error {
  constructor() {
    super('promtool is not installed: apt-get install -y prometheus (Debian/Ubuntu; .ci/run installs it). These checks never skip.');
    this.name = 'PromtoolNotFoundError';
  }
}

/** Runs promtool from the repository root; rejects with its whole output when it fails. */
export async function promtool(args: readonly string[], options: { executable?: string } = {}): Promise<string> {
  const executable = options.executable ?? 'promtool';
  try {
    const { stdout, stderr } = await execFileAsync(executable, [...args], { cwd: repoRoot, timeout: 120_000 });
    return `${stdout}${stderr}`;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new PromtoolNotFoundError();
    const { stdout = '', stderr = '', message } = error as { stdout?: string; stderr?: string; message: string };
    throw new Error(`promtool ${args.join(' ')} failed: ${message}\n${stdout}${stderr}`);
  }
}
