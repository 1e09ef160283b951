/**
 * For a process started with `child_process.fork` by a supervisor: calls `shutdown` once the IPC
 * channel to the parent closes, which the kernel makes happen when the parent dies, even by
 * SIGKILL. Without it such a child lives on under init, still taking work, and holds the output
 * pipes its parent shared with it, so whoever waits for that output never sees it end.
 * `shutdown` should drain with a deadline and exit. Returns false (and watches nothing) in a
 * process that has no IPC channel, i.e. one not forked by a supervisor.
 *
 * node:cluster workers need none of this: Node exits them itself when their primary goes.
 */
export function exitWithSupervisor(shutdown: () => void): boolean {
  if (process.send === undefined || !process.connected) return false;
  process.once('disconnect', shutdown);
  return true;
}
