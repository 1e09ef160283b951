import { startHeartbeat } from './heartbeat.ts';

const readyMessage = 'gradcam:process-ready';
const notReadyMessage = 'gradcam:process-not-ready';

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

/**
 * In a child forked by a ProcessSupervisor: says it cannot take work for now and why (a short
 * reason such as 'storage: unavailable', which the supervisor's readiness() passes on), or, with
 * undefined, that it can again. The supervisor counts it not ready meanwhile; its heartbeats and
 * its restarts are unchanged. One IPC message per call, so call it on a change, not on a timer. A
 * report sent before announceReady holds from the announcement on (a child ready but for one
 * dependency). Returns false, and sends nothing, in a process without an IPC channel.
 */
export function reportNotReady(reason: string | undefined): boolean {
  if (process.send === undefined || !process.connected) return false;
  process.send({ type: notReadyMessage, reason: reason ?? null }, undefined, undefined, () => {});
  return true;
}

/** The reason a child's reportNotReady message gives (null: ready again); undefined for any other message. */
export function notReadyReport(message: unknown): string | null | undefined {
  if (typeof message !== 'object' || message === null || (message as { type?: unknown }).type !== notReadyMessage) return undefined;
  const { reason } = message as { reason?: unknown };
  return typeof reason === 'string' ? reason : null;
}
