import { type ChildProcess, fork } from 'node:child_process';

/** Absolute, so children find tsx whatever their working directory. */
const tsxLoader = import.meta.resolve('tsx');

export interface ForkedWorker {
  readonly process: ChildProcess;
  /**
   * Resolves when the child exits with code 0; rejects when it reports an error, exits otherwise,
   * or cannot start. Never left unhandled: safe to ignore until the caller is ready to await it.
   */
  readonly exited: Promise<void>;
  send(message: object): void;
  /** Safe to call twice, and after the child has exited. */
  kill(): void;
}

function isErrorMessage(value: unknown): value is { type: 'error'; message: string } {
  return typeof value === 'object' && value !== null && 'type' in value && value.type === 'error' && 'message' in value && typeof value.message === 'string';
}

/**
 * Runs a benchmark worker (a .ts file using worker-ipc.ts) in its own Node process through tsx,
 * with its JSON config as the only argument. The children's stdout is sent to our stderr, so a
 * stray print can never corrupt `--json` output. `{type: 'error'}` messages end in `exited`.
 */
export function forkWorker(file: string, config: object, onMessage: (message: unknown) => void): ForkedWorker {
  const child = fork(file, [JSON.stringify(config)], {
    // --expose-gc: workers collect garbage between timed iterations (see engine-bench.ts).
    execArgv: ['--import', tsxLoader, '--expose-gc'],
    stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
  });
  // Written through rather than piped: every pipe adds listeners to process.stderr, and with 11
  // or more children Node warned of a listener leak in the middle of the report.
  child.stdout?.on('data', (chunk: Buffer) => process.stderr.write(chunk));
  let reported: string | undefined;
  const exited = new Promise<void>((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (code === 0 && reported === undefined) resolve();
      else reject(new Error(`worker ${file.split('/').pop()} (pid ${child.pid}): ${reported ?? `exited with ${signal ?? `code ${code}`}`}`));
    });
  });
  exited.catch(() => undefined);
  child.on('message', (message: unknown) => {
    if (isErrorMessage(message)) reported = message.message;
    else onMessage(message);
  });
  return {
    process: child,
    exited,
    send: (message) => {
      if (child.connected) child.send(message);
    },
    kill: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill();
    },
  };
}
