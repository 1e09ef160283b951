import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from './free-port.ts';
import { withLaunchPrefix } from './launch-prefix.ts';
import { commandNotFoundStatus, signalLeashed, spawnLeashed } from './leashed-process.ts';

export interface RedisServerOptions {
  /** Keep data in an append-only file in `dir` (the local stack does; tests need not). */
  readonly appendOnly?: boolean;
  /** Data directory; a fresh temporary one (removed on stop) when omitted. */
  readonly dir?: string;
  readonly executable?: string;
  /** A command that runs the server, such as `['taskset', '-c', '0,1']` (benchmarks pin it to cores). */
  readonly launchPrefix?: readonly string[] | undefined;
  /** More `redis-server` arguments, after the ones set here (e.g. `['--rename-command', 'CLIENT', '']`). */
  readonly extraArgs?: readonly string[];
}

export interface RedisServer {
  readonly url: string;
  readonly port: number;
  /** Stops the server as a crash would (SIGKILL) or politely (SIGTERM, the default). */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

export class RedisServerNotFoundError extends Error {
  readonly code = 'REDIS_SERVER_NOT_FOUND';
  constructor(executable: string) {
    super(
      `"${executable}" was not found on PATH: install Redis (Debian/Ubuntu: sudo apt-get install -y redis-server; macOS: brew install redis) or set REDIS_URL to a running server`,
    );
  }
}

function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ port, host: '127.0.0.1' });
    socket.once('error', () => resolve(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (data) => {
      socket.destroy();
      resolve(data.toString().startsWith('+PONG'));
    });
  });
}

/**
 * Starts a private `redis-server` on a free port of 127.0.0.1: for tests (each gets its own,
 * so nothing touches a Redis someone else runs) and for the local stack when no REDIS_URL is set.
 * It runs in its own process group (a Ctrl-C meant for the parent does not stop it before the
 * services that use it) and stops when the parent dies, even by SIGKILL (see spawnLeashed).
 */
export async function startRedisServer(options: RedisServerOptions = {}): Promise<RedisServer> {
  const executable = options.executable ?? 'redis-server';
  const ownDir = options.dir === undefined;
  const dir = options.dir ?? (await mkdtemp(join(tmpdir(), 'gradcam-redis-')));
  // A port can be taken between freePort() and bind; retry a few times with a new one.
  for (let attempt = 0; ; attempt++) {
    const port = await freePort();
    const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--maxmemory-policy', 'noeviction'];
    args.push('--appendonly', options.appendOnly ? 'yes' : 'no', ...(options.extraArgs ?? []));
    const launch = withLaunchPrefix(options.launchPrefix, executable, args);
    const child: ChildProcess = spawnLeashed(launch.command, launch.args, { output: { stdout: 'ignore', stderr: 'pipe' } });
    let exited = false;
    let spawnError: NodeJS.ErrnoException | undefined;
    child.once('error', (error: NodeJS.ErrnoException) => (spawnError = error));
    let exitCode: number | null = null;
    child.once('exit', (code) => {
      exited = true;
      exitCode = code;
    });
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-2000)));
    const deadline = Date.now() + 10_000;
    while (!exited && spawnError === undefined && Date.now() < deadline && !(await ping(port))) await sleep(20);
    if (spawnError) throw spawnError;
    // The leash (sh) reports a command it cannot find as status 127.
    if (exited && exitCode === commandNotFoundStatus) throw new RedisServerNotFoundError(executable);
    if (exited) {
      if (attempt < 3) continue;
      throw new Error(`redis-server exited at start (port ${port}): ${stderr.trim() || 'no output'}`);
    }
    if (Date.now() >= deadline) {
      signalLeashed(child, 'SIGKILL');
      throw new Error(`redis-server did not answer PING on port ${port} within 10 s`);
    }
    let stopped: Promise<void> | undefined;
    return {
      url: `redis://127.0.0.1:${port}`,
      port,
      stop(signal: NodeJS.Signals = 'SIGTERM') {
        stopped ??= (async () => {
          if (!exited) {
            const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
            signalLeashed(child, signal);
            await gone;
          }
          if (ownDir) await rm(dir, { recursive: true, force: true });
        })();
        return stopped;
      },
    };
  }
}
