// The IPC channel is one per process, so its watch is too: one 'disconnect' listener, calling the
// latest shutdown given, once.
let shutdownNow: (() => void) | undefined;
let called = false;

function supervisorGone(): void {
  if (called) return;
  called = true;
  shutdownNow?.();
}

/**
 * For a process started with `child_process.fork` by a supervisor: calls `shutdown` once the IPC
 * channel to the parent closes, which the kernel makes happen when the parent dies, even by
 * SIGKILL. Without it such a child lives on under init, still taking work, and holds the output
 * pipes its parent shared with it, so whoever waits for that output never sees it end.
 * `shutdown` should drain with a deadline and exit.
 *
 * A channel that closed before the call (the supervisor died while this process was still loading
 * its modules) calls `shutdown` at once (on the next tick): a forked child that is no longer
 * connected has lost its supervisor. So call it first thing, before any slow import, with a
 * shutdown that simply exits, and again once there is work to drain: a later call replaces the
 * shutdown, which runs once whichever call it came from.
 *
 * Returns false (and watches nothing) in a process that has no IPC channel, i.e. one not forked by
 * a supervisor. node:cluster workers need none of this: Node exits them itself when their primary
 * goes.
 */
export function exitWithSupervisor(shutdown: () => void): boolean {
  // process.send stays defined after the channel closes: it tells a forked child apart.
  if (process.send === undefined) return false;
  const first = shutdownNow === undefined;
  shutdownNow = shutdown;
  if (!process.connected) process.nextTick(supervisorGone);
  else if (first) process.once('disconnect', supervisorGone);
  return true;
}
