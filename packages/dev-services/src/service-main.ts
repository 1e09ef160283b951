import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));

/** A service's composition root running as in production, its stdout and stderr collected. */
export interface ServiceMain {
  /** Everything the process wrote so far, stdout and stderr interleaved. */
  output(): string;
  /** Resolves once `url` answers 200; fails naming the last answer and the output after `timeoutMs`. */
  untilReady(url: string, timeoutMs?: number): Promise<void>;
  /** Resolves once the output holds `text`; fails with the output after `timeoutMs`. */
  untilOutput(text: string, timeoutMs?: number): Promise<void>;
  /** SIGTERM, then waits for the process to exit. */
  stop(): Promise<void>;
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** `node --import tsx <entry>` (a path from the repository root) with `env` as its whole environment. */
export function startServiceMain(entry: string, env: NodeJS.ProcessEnv): ServiceMain {
  const child = spawn(process.execPath, ['--import', 'tsx', entry], { cwd: repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    output: () => output,
    async untilReady(url, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const answer = await fetch(url).then(async (r) => `${r.status} ${await r.text()}`, () => 'no answer');
        if (answer.startsWith('200')) return;
        if (Date.now() > deadline) throw new Error(`${entry} never ready at ${url} (last: ${answer})\n${output}`);
        await pause(200);
      }
    },
    async untilOutput(text, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      while (!output.includes(text)) {
        if (Date.now() > deadline) throw new Error(`${entry} never wrote ${JSON.stringify(text)}\n${output}`);
        await pause(100);
      }
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}
