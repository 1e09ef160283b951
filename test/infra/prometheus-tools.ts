import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { repoRoot } from './infra-files.ts';

const execFileAsync = promisify(execFile);

/** A Prometheus command-line tool that is not installed: the message names the Debian package. */
export class ToolNotFoundError extends Error {
  constructor(tool: string, debianPackage: string) {
    super(`${tool} is not installed: apt-get install -y ${debianPackage} (Debian/Ubuntu; .ci/run installs it). These checks never skip.`);
    this.name = 'ToolNotFoundError';
  }
}

/** Runs `executable` from the repository root; rejects with its whole output when it fails. */
async function runTool(tool: string, debianPackage: string, executable: string, args: readonly string[]): Promise<string> {
  try {
    const { stdout, stderr } = await execFileAsync(executable, [...args], { cwd: repoRoot, timeout: 120_000 });
    return `${stdout}${stderr}`;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new ToolNotFoundError(tool, debianPackage);
    const { stdout = '', stderr = '', message } = error as { stdout?: string; stderr?: string; message: string };
    throw new Error(`${tool} ${args.join(' ')} failed: ${message}\n${stdout}${stderr}`);
  }
}

/** promtool (Debian's `prometheus`): `check config`, `check rules`, `test rules`. */
export function promtool(args: readonly string[], options: { executable?: string } = {}): Promise<string> {
  return runTool('promtool', 'prometheus', options.executable ?? 'promtool', args);
}

/** amtool (Debian's `prometheus-alertmanager`): `check-config`, `config routes test`. */
export function amtool(args: readonly string[]): Promise<string> {
  return runTool('amtool', 'prometheus-alertmanager', 'amtool', args);
}
