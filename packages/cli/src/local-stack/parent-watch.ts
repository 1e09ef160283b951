/**
 * Calls `onGone` once when the process that started this one exits. A launcher can die without
 * passing its signal on (npm's `sh -c` on SIGTERM) or by SIGKILL; `gradcam up` would then run on
 * under init, its services holding their ports, with nobody left to press Ctrl-C. The kernel gives
 * an orphan a new parent (init or a subreaper), so a changed ppid is the sign. Returns a function
 * that stops watching.
 */
export function watchParent(onGone: () => void, intervalMs = 500): () => void {
  const parent = process.ppid;
  const timer = setInterval(() => {
    if (process.ppid === parent) return;
    clearInterval(timer);
    onGone();
  }, intervalMs);
  // The watch alone must not keep the process alive.
  timer.unref();
  return () => clearInterval(timer);
}
