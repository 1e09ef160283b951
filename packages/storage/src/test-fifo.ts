// For tests: a filesystem call that never returns, without a broken mount.
import { execFileSync } from 'node:child_process';
import { closeSync, openSync, rmSync } from 'node:fs';

/**
 * A FIFO with no writer at `path`: opening it for reading blocks in open(2) until a writer
 * comes, as a call on a hung NFS or FUSE mount does. `release` opens a writer (O_RDWR does not
 * block on a FIFO), which lets every blocked open return, and removes the name so no later open
 * blocks; the writer stays open until `dispose`, for opens already past the name. Released at the
 * latest after `safetyMs`, so code without deadlines fails a test instead of hanging it: Node
 * cannot exit while one of its threads is blocked in a system call.
 */
export function blockingFifo(path: string, safetyMs = 20_000): { release(): void; dispose(): void } {
  execFileSync('mkfifo', [path]);
  let writer: number | undefined;
  const release = () => {
    writer ??= openSync(path, 'r+');
    rmSync(path, { force: true });
  };
  const safety = setTimeout(release, safetyMs);
  return {
    release,
    dispose() {
      clearTimeout(safety);
      release();
      if (writer !== undefined) closeSync(writer);
    },
  };
}
