/** Child side of fork-worker.ts. */

export function sendToParent(message: object): Promise<void> {
  return new Promise((resolve, reject) => {
    if (!process.send) {
      reject(new Error('this benchmark worker must be started by the benchmark (child_process.fork), not by hand'));
      return;
    }
    process.send(message, undefined, {}, (error) => (error ? reject(error) : resolve()));
  });
}

/** Resolves with the first message from the parent that `accept` takes. */
export function nextParentMessage<T>(accept: (message: unknown) => message is T): Promise<T> {
  return new Promise((resolve) => {
    const onMessage = (message: unknown): void => {
      if (!accept(message)) return;
      process.off('message', onMessage);
      resolve(message);
    };
    process.on('message', onMessage);
  });
}

/**
 * Runs a worker's body with its JSON config (argv[2]); a failure is sent to the parent as
 * `{type: 'error', message}` and the process exits non-zero. Disconnects when done so the
 * process can exit.
 */
export async function runWorker(body: (config: unknown) => Promise<void>): Promise<void> {
  try {
    await body(JSON.parse(process.argv[2] ?? 'null'));
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    await sendToParent({ type: 'error', message }).catch(() => undefined);
    process.exitCode = 1;
  } finally {
    if (process.connected) process.disconnect();
  }
}
