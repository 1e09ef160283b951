import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { freePort } from '@gradcam/dev-services';

export const gradcamBin = fileURLToPath(new URL('../../bin/gradcam.js', import.meta.url));
export const repoRoot = fileURLToPath(new URL('../../../../', import.meta.url));

/**
 * Live processes whose environment holds `marker` (a test's own state folder), with their command
 * lines. Unlike descendants, this finds processes orphaned when their parent died, which is what
 * the tests of a dead launcher look for.
 */
export function processesWithEnv(marker: string): string[] {
  const found: string[] = [];
  for (const entry of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) continue;
      if (!readFileSync(`/proc/${entry}/environ`).includes(marker)) continue;
      found.push(`${entry} ${readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').join(' ').trim()}`);
    } catch {
      // Gone between readdir and read, or not ours to read.
    }
  }
  return found;
}

/** Waits until no process carries `marker`; returns those still there at the deadline. */
export async function waitUntilNoneLeft(marker: string, timeoutMs: number): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  let left = processesWithEnv(marker);
  while (left.length > 0 && Date.now() < deadline) {
    await sleep(100);
    left = processesWithEnv(marker);
  }
  return left;
}

/**
 * SIGKILL to every process carrying `marker`: the cleanup of a test that failed half-way. A leash
 * leads its own process group, and its redis-server, whose title overwrites its environment, is
 * found only through that group.
 */
export function killAllWithEnv(marker: string): void {
  for (const line of processesWithEnv(marker)) {
    const pid = Number(line.split(' ')[0]);
    for (const target of [-pid, pid]) {
      try {
        process.kill(target, 'SIGKILL');
      } catch {
        // Not a group leader, or already gone.
      }
    }
  }
}

/** Free ports for the four services, as the variables that set them. */
export async function stackPortEnv(): Promise<Record<string, string>> {
  return {
    GRADCAM_INGEST_PORT: String(await freePort()),
    GRADCAM_EXPORTER_PORT: String(await freePort()),
    GRADCAM_WORKER_METRICS_PORT: String(await freePort()),
    GRADCAM_REVIEW_PORT: String(await freePort()),
  };
}

export interface GradcamRun {
  readonly child: ChildProcess;
  /** Everything written so far. */
  readonly stdout: () => string;
  readonly stderr: () => string;
  /** Resolves once the text appears on stdout or stderr; rejects if the process exits first or the time runs out. */
  waitFor(text: string | RegExp, timeoutMs: number): Promise<void>;
  readonly exited: Promise<{ status: number | null; signal: NodeJS.Signals | null }>;
}

/** `gradcam <args>` as a child process of this one, its output collected. */
export function runGradcam(args: readonly string[], env: NodeJS.ProcessEnv): GradcamRun {
  const child = spawn(process.execPath, [gradcamBin, ...args], { cwd: repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<{ status: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('close', (status, signal) => resolve({ status, signal })));
  let done = false;
  void exited.then(() => (done = true));
  return {
    child,
    stdout: () => stdout,
    stderr: () => stderr,
    exited,
    async waitFor(text, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      const seen = () => (typeof text === 'string' ? (stdout + stderr).includes(text) : text.test(stdout + stderr));
      while (!seen()) {
        if (done) throw new Error(`exited before "${String(text)}":\n${stdout}\n${stderr}`);
        if (Date.now() > deadline) throw new Error(`no "${String(text)}" within ${timeoutMs} ms:\n${stdout}\n${stderr}`);
        await sleep(50);
      }
    },
  };
}
