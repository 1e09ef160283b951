export interface StopSignalHandlers {
  /** The first SIGINT, SIGTERM or SIGHUP: stop in order. */
  readonly stop: (signal: StopSignal) => void;
  /** The second: the ordered stop is still running; say what it waits for. */
  readonly waiting: () => void;
  /** The third: give up on the order and exit now (with 128 + the signal's number). */
  readonly force: (exitCode: number) => void;
}

/** 128 + each signal's number, the exit code a shell reports for a process it killed. */
const exitCodes = { SIGHUP: 129, SIGINT: 130, SIGTERM: 143 } as const;
export type StopSignal = keyof typeof exitCodes;

/**
 * How `gradcam up` answers Ctrl-C. An impatient second Ctrl-C used to kill it at once, and the
 * services' leashes then stopped everything together: Redis under the workers' in-flight batch.
 * Now the second only says what the stop waits for, and a third exits. SIGHUP (its terminal
 * closed) counts the same: Node's default would end this process at once, and the leashes would
 * then stop everything together. Returns a function that removes the handlers.
 */
export function handleStopSignals(handlers: StopSignalHandlers): () => void {
  let received = 0;
  const onSignal = (signal: StopSignal) => {
    received += 1;
    if (received === 1) handlers.stop(signal);
    else if (received === 2) handlers.waiting();
    else handlers.force(exitCodes[signal]);
  };
  for (const signal of Object.keys(exitCodes) as StopSignal[]) process.on(signal, onSignal);
  return () => {
    for (const signal of Object.keys(exitCodes)) process.off(signal, onSignal);
  };
}
