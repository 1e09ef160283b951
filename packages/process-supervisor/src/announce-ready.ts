import { startHeartbeat } from './heartbeat.ts';

const readyMessage = 'gradcam:process-ready';

/**
 * In a child forked by a ProcessSupervisor: tells it this process is ready (what its own /readyz
 * would answer 200 to), so the supervisor can answer for all of its processes, and from then on
 * sends it a heartbeat (startHeartbeat) for its watchdog. Returns false, and sends nothing, in a
 * process without an IPC channel.
 */
export function announceReady(): boolean {
  if (process.send === undefined || !process.connected) return false;
  // The callback takes the error of a channel that closed meanwhile (the supervisor is gone).
  process.send({ type: readyMessage }, undefined, undefined, () => {});
  startHeartbeat();
  return true;
}

export const isReadyAnnouncement = (message: unknown): boolean =>
  typeof message === 'object' && message !== null && (message as { type?: unknown }).type === readyMessage;
