const heartbeatMessage = 'gradcam:process-heartbeat';

/**
 * How often a ready child tells its supervisor that its event loop still turns. Each beat is one
 * tiny IPC message, so it can be frequent; the supervisor's watchdog limit (heartbeatTimeoutMs)
 * must leave room for several beats, so that one late beat is never taken for a hang.
 */
export const heartbeatIntervalMs = 1_000;

let beating: NodeJS.Timeout | undefined;

/**
 * Sends a heartbeat to the supervisor every heartbeatIntervalMs from now on. The beat is a timer
 * callback, so it only runs while the event loop is free: a process stuck in a synchronous call
 * (a native op spinning) falls silent, which is what the supervisor's watchdog looks for. Called
 * by announceReady; a second call changes nothing.
 */
export function startHeartbeat(): void {
  if (beating !== undefined || process.send === undefined) return;
  beating = setInterval(() => {
    // The callback takes the error of a channel that closed meanwhile (the supervisor is gone).
    if (process.connected) process.send?.({ type: heartbeatMessage }, undefined, undefined, () => {});
    else clearInterval(beating);
  }, heartbeatIntervalMs);
  // The beat must never be what keeps a draining process alive.
  beating.unref();
}

export const isHeartbeat = (message: unknown): boolean =>
  typeof message === 'object' && message !== null && (message as { type?: unknown }).type === heartbeatMessage;
