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
 * A signal of the kind last counted that comes this soon after it is the same press. Under
 * `npm start` one Ctrl-C arrives twice: the terminal sends SIGINT to the whole foreground group
 * (npm and gradcam up), and npm (@npmcli/run-script) forwards the SIGINT it got to its child as
 * well. Counted twice, the first Ctrl-C already said "still stopping", and the second exited at
 * once, the leashes then stopping Redis under the workers' batch. npm forwards at once, so its copy
 * comes within milliseconds; half a second leaves room for a loaded machine and is still shorter
 * than a person's second, deliberate press (and a press swallowed costs only pressing again).
 */
export const samePressWindowMs = 500;

/**
 * How `gradcam up` answers Ctrl-C. An impatient second Ctrl-C used to kill it at once, and the
 * services' leashes then stopped everything together: Redis under the workers' in-flight batch.
 * Now the second only says what the stop waits for, and a third exits. SIGHUP (its terminal
 * closed) counts the same: Node's default would end this process at once, and the leashes would
 * then stop everything together. Returns a function that removes the handlers.
 */
export function handleStopSignals(handlers: StopSignalHandlers): () => void {
  let received = 0;
  let last: { signal: StopSignal; at: number } | undefined;
  const onSignal = (signal: StopSignal) => {
    const at = performance.now();
    if (last?.signal === signal && at - last.at < samePressWindowMs) return;
    last = { signal, at };
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
