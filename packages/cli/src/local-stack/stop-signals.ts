export interface StopSignalHandlers {
  /** The first SIGINT or SIGTERM: stop in order. */
  readonly stop: () => void;
  /** The second: the ordered stop is still running; say what it waits for. */
  readonly waiting: () => void;
  /** The third: give up on the order and exit now (with 128 + the signal's number). */
  readonly force: (exitCode: number) => void;
}

const exitCodes = { SIGINT: 130, SIGTERM: 143 } as const;

/**
 * How `gradcam up` answers Ctrl-C. An impatient second Ctrl-C used to kill it at once, and the
 * services' leashes then stopped everything together: Redis under the workers' in-flight batch.
 * Now the second only says what the stop waits for, and a third exits. Returns a function that
 * removes the handlers.
 */
export function handleStopSignals(handlers: StopSignalHandlers): () => void {
  let received = 0;
  const onSignal = (signal: keyof typeof exitCodes) => {
    received += 1;
    if (received === 1) handlers.stop();
    else if (received === 2) handlers.waiting();
    else handlers.force(exitCodes[signal]);
  };
  for (const signal of Object.keys(exitCodes) as (keyof typeof exitCodes)[]) process.on(signal, onSignal);
  return () => {
    for (const signal of Object.keys(exitCodes)) process.off(signal, onSignal);
  };
}
