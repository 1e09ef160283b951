import { type ChildProcess, type StdioNull, type StdioPipe, spawn } from 'node:child_process';

/**
 * Runs "$@" in the background and stays as its parent: forwards TERM, INT and HUP to it, exits
 * with its status, and sends it TERM when the leash's stdin (a pipe from the process that started
 * it) reaches end of file — which the kernel makes happen when that process dies, even by SIGKILL.
 * The command's own stdin is /dev/null, so only the leash holds the pipe. `wait` returns early
 * when a trapped signal arrives, hence the loop until the command is really gone.
 */
const leashScript = `
"$@" </dev/null &
child=$!
exec 3<&0
{ read -r _ <&3 || :; kill -TERM "$child" 2>/dev/null; } </dev/null &
watcher=$!
exec 3<&-
for sig in TERM INT HUP; do trap "kill -$sig $child 2>/dev/null" "$sig"; done
while :; do
  wait "$child"
  status=$?
  kill -0 "$child" 2>/dev/null || break
done
kill "$watcher" 2>/dev/null
exit "$status"
`;

/** Exit status of the leash when the command could not be found (as a shell reports it). */
export const commandNotFoundStatus = 127;

export interface LeashedSpawnOptions {
  readonly cwd?: string;
  readonly env?: NodeJS.ProcessEnv;
  /** The command's stdout and stderr: 'pipe' to read them, 'ignore' to drop them. */
  readonly output?: { readonly stdout: StdioPipe | StdioNull; readonly stderr: StdioPipe | StdioNull };
}

/**
 * Starts a long-running helper process (a service, a private redis-server) in its own process
 * group, so a Ctrl-C meant for the terminal's foreground group reaches only the parent, which
 * then stops its children in the order it chooses. Leaving the terminal's group would also let
 * the children outlive a parent killed by SIGKILL; the leash (a POSIX `sh`) prevents that by
 * stopping the command when the parent's end of its stdin pipe closes.
 *
 * `child.kill(signal)` reaches the command through the leash, and `exit` reports the command's
 * status as an exit code (128 + n for signal n). SIGKILL cannot be forwarded: it is sent to the
 * whole group, which is why the group exists.
 */
export function spawnLeashed(command: string, args: readonly string[], options: LeashedSpawnOptions = {}): ChildProcess {
  const output = options.output ?? { stdout: 'ignore', stderr: 'ignore' };
  const child = spawn('sh', ['-c', leashScript, 'leash', command, ...args], {
    ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
    ...(options.env === undefined ? {} : { env: options.env }),
    stdio: ['pipe', output.stdout, output.stderr],
    detached: true,
  });
  // The pipe is never written; it only has to stay open while this process lives. A write end
  // that errors (the leash gone) must not crash the parent.
  child.stdin?.on('error', () => {});
  return child;
}

/** Sends `signal` to a leashed process: SIGKILL to its whole group (the leash cannot forward it). */
export function signalLeashed(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.exitCode !== null || child.signalCode !== null) return;
  if (signal === 'SIGKILL' && child.pid !== undefined) {
    try {
      process.kill(-child.pid, 'SIGKILL');
      return;
    } catch {
      // The group is already gone; fall through to the leash itself.
    }
  }
  child.kill(signal);
}
