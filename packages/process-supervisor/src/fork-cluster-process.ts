import type { ChildProcess } from 'node:child_process';
import cluster from 'node:cluster';

/**
 * `cluster.fork(env).process`, for a ProcessSupervisor's `spawn` over node:cluster workers. The
 * cluster Worker re-emits its process's 'error' (a spawn that fails: ENOENT, EAGAIN under a pid
 * limit) as its own, and with no listener there that error would end the supervising process. The
 * supervisor listens on the process and restarts it, so the Worker's copy is dropped here.
 */
export function forkClusterProcess(env?: NodeJS.ProcessEnv): ChildProcess {
  const worker = cluster.fork(env);
  worker.on('error', () => {});
  return worker.process;
}
