import { Worker } from 'node:worker_threads';

// The IPC channel is one per process, so its watch is too: one 'disconnect' listener, calling the
// latest shutdown given, once.
let shutdownNow: (() => void) | undefined;
let called = false;
let loadingWatch: Worker | undefined;

function supervisorGone(): void {
  if (called) return;
  called = true;
  shutdownNow?.();
}

// 'disconnect' is an event: it runs only when the main thread's event loop turns. Under tsx on
// Node >= 22.15 (module.registerHooks) a graph of imports loads synchronously, so a process still
// loading tfjs, sharp and bullmq would see its supervisor's death only seconds later, once loaded.
// While the first shutdown (the exit-at-once one) is in force, a thread of its own polls the
// parent's pid, which changes when the parent dies (the process is handed to init or a
// subreaper), and kills the process: nothing of its own runs yet, there is nothing to drain.
// The supervisor's pid is best given (see exitWithSupervisor): a supervisor that died before this
// call has already handed the process on, and its new parent would look like the supervisor.
// `execArgv: []` keeps tsx out of the thread (plain CommonJS, started in milliseconds).
const loadingWatchSource = `
const { workerData } = require('node:worker_threads');
setInterval(() => { if (process.ppid !== workerData.supervisor) process.kill(process.pid, 'SIGKILL'); }, workerData.everyMs);`;

function watchWhileLoading(supervisor: number): Worker {
  const watch = new Worker(loadingWatchSource, { eval: true, execArgv: [], workerData: { supervisor, everyMs: 50 } });
  watch.unref();
  return watch;
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
 * shutdown, which runs once whichever call it came from. Until that second call, the supervisor's
 * death kills the process even while its main thread is busy (see loadingWatchSource); give the
 * first call `supervisorPid` (the supervisor passes its pid, e.g. as an argument), which tells a
 * supervisor that died before the call from one that is still there.
 *
 * Returns false (and watches nothing) in a process that has no IPC channel, i.e. one not forked by
 * a supervisor. node:cluster workers need none of this: Node exits them itself when their primary
 * goes.
 */
export function exitWithSupervisor(shutdown: () => void, supervisorPid?: number): boolean {
  // process.send stays defined after the channel closes: it tells a forked child apart.
  if (process.send === undefined) return false;
  const first = shutdownNow === undefined;
  shutdownNow = shutdown;
  const gone = !process.connected || (supervisorPid !== undefined && process.ppid !== supervisorPid);
  if (gone) process.nextTick(supervisorGone);
  else if (first) process.once('disconnect', supervisorGone);
  // Also when gone: the next tick may be seconds away, behind modules loading synchronously.
  if (first) loadingWatch = watchWhileLoading(supervisorPid ?? process.ppid);
  else if (!first) void loadingWatch?.terminate();
  return true;
}
