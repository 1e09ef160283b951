import { descendantPids } from './pipeline-process-cpu.ts';

type Task = () => Promise<unknown>;

/**
 * What the benchmark must undo (stop the stack, remove temporary directories), newest first, run
 * once whether the run ends normally, throws, or is interrupted with Ctrl-C.
 */
export class CleanupStack {
  private readonly tasks: { label: string; task: Task }[] = [];
  private running: Promise<void> | undefined;

  /** Registers `task`; the returned function runs it now (once) and unregisters it. */
  push(label: string, task: Task): () => Promise<void> {
    const entry = { label, task };
    this.tasks.push(entry);
    let done: Promise<void> | undefined;
    return () =>
      (done ??= (async () => {
        const at = this.tasks.indexOf(entry);
        if (at >= 0) this.tasks.splice(at, 1);
        await task();
      })());
  }

  /** Runs every remaining task, newest first; a failure is reported and the rest still run. Safe twice. */
  runAll(report: (line: string) => void): Promise<void> {
    return (this.running ??= (async () => {
      while (this.tasks.length > 0) {
        const { label, task } = this.tasks.pop() as { label: string; task: Task };
        try {
          await task();
        } catch (error) {
          report(`cleanup: ${label} failed: ${error instanceof Error ? error.message : String(error)}`);
        }
      }
      // Last resort: a child started by code that could not be reached (e.g. an engine-bench
      // worker mid-window when Ctrl-C came) must not outlive us. Only our own descendants, by pid.
      for (const pid of descendantPids()) {
        try {
          process.kill(pid, 'SIGTERM');
        } catch {
          // Already gone.
        }
      }
    })());
  }
}

/**
 * On SIGINT/SIGTERM: run the cleanup, then exit 130/143. A second signal exits at once, so a
 * stuck cleanup can still be abandoned from the keyboard.
 */
export function cleanUpOnSignals(cleanup: CleanupStack, report: (line: string) => void): void {
  let interrupted = false;
  for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
    process.on(signal, () => {
      if (interrupted) process.exit(code);
      interrupted = true;
      report(`${signal}: stopping the services and removing temporary files…`);
      void cleanup.runAll(report).finally(() => process.exit(code));
    });
  }
}
