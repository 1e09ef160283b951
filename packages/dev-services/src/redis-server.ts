import type { ChildProcess } from 'node:child_process';
import { constants } from 'node:fs';
import { access, mkdtemp, rm, stat } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from './free-port.ts';
import { withLaunchPrefix } from './launch-prefix.ts';
import { commandNotFoundStatus, signalLeashed, spawnLeashed } from './leashed-process.ts';
import { RedisServerStartError } from './redis-server-start-error.ts';

export interface RedisServerOptions {
  /** Keep data in an append-only file in `dir` (the local stack does; tests need not). */
  readonly appendOnly?: boolean;
  /** Data directory; a fresh temporary one (removed on stop) when omitted. */
  readonly dir?: string;
  readonly executable?: string;
  /** A command that runs the server, such as `['taskset', '-c', '0,1']` (benchmarks pin it to cores). */
  readonly launchPrefix?: readonly string[] | undefined;
  /**
   * More `redis-server` arguments, after the ones set here (e.g. `['--rename-command', 'CLIENT', '']`).
   * Not `--logfile` or `--loglevel warning`: the start waits for the server's own "ready" line on stdout.
   */
  readonly extraArgs?: readonly string[];
}

export interface RedisServer {
  readonly url: string;
  readonly port: number;
  /**
   * Settles when the server exits, with 'code N' (128 + n for signal n, as the leash reports it):
   * whoever relies on it can notice it died (the local stack stops, a crash is not a hang).
   */
  readonly exited: Promise<string>;
  /** Its last log line (timestamp prefix removed), e.g. why it exited; undefined while silent. */
  lastLine(): string | undefined;
  /** Stops the server as a crash would (SIGKILL) or politely (SIGTERM, the default). */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

export class RedisServerNotFoundError extends Error {
  readonly code = 'REDIS_SERVER_NOT_FOUND';
  constructor(executable: string) {
    super(
      `"${executable}" was not found on PATH: install Redis (Debian/Ubuntu: sudo apt-get install -y redis-server; macOS: brew install redis) or set REDIS_URL to a running server`,
    );
    this.name = 'RedisServerNotFoundError';
  }
}

/**
 * Throws RedisServerNotFoundError unless `executable` (a name looked up on PATH, as the leash's
 * shell would, or a path) is an executable file: `gradcam up` asks before anything starts, so a
 * machine without Redis is refused before the state folder is written to, not once Redis starts.
 */
export async function assertRedisServerInstalled(executable = 'redis-server', path = process.env.PATH ?? ''): Promise<void> {
  const candidates = executable.includes('/') ? [executable] : path.split(delimiter).filter((dir) => dir !== '').map((dir) => join(dir, executable));
  for (const candidate of candidates) {
    const info = await stat(candidate).catch(() => undefined);
    if (info?.isFile() && (await access(candidate, constants.X_OK).then(() => true, () => false))) return;
  }
  throw new RedisServerNotFoundError(executable);
}

/** `1234:M 27 Nov 2026 10:30:35.876 # ` before each log line; a config-file error has none. */
const logPrefix = /^\d+:[A-Z] \d+ \w+ \d+ [\d:.]+ [.*#-] /;

/** The last non-empty line of Redis's output, without its log prefix: why it stopped, as a rule. */
function lastLogLine(output: string): string | undefined {
  const lines = output.split('\n').map((line) => line.replace(logPrefix, '').trim()).filter((line) => line !== '');
  return lines.at(-1);
}

/**
 * Whether something on the port answers PING with PONG within `timeoutMs`. A port that accepts
 * and then says nothing, or closes, is a no, not a wait for ever.
 */
function ping(port: number, timeoutMs = 1_000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ port, host: '127.0.0.1' });
    const answer = (pong: boolean) => {
      socket.destroy();
      resolve(pong);
    };
    socket.setTimeout(timeoutMs, () => answer(false));
    socket.once('error', () => answer(false));
    socket.once('close', () => answer(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (data) => answer(data.toString().startsWith('+PONG')));
  });
}

/**
 * What Redis logs once it listens and has loaded its data ("Ready to accept connections tcp" in
 * Redis 7, without "tcp" before; "The server is now ready to accept connections" in 2.x).
 */
const readyLine = /ready to accept connections/i;

/**
 * Starts a private `redis-server` on a free port of 127.0.0.1: for tests (each gets its own,
 * so nothing touches a Redis someone else runs) and for the local stack when no REDIS_URL is set.
 * It runs in its own process group (a Ctrl-C meant for the parent does not stop it before the
 * services that use it) and stops when the parent dies, even by SIGKILL (see spawnLeashed).
 */
export async function startRedisServer(options: RedisServerOptions = {}): Promise<RedisServer> {
  const ownDir = options.dir === undefined;
  const dir = options.dir ?? (await mkdtemp(join(tmpdir(), 'gradcam-redis-')));
  try {
    return await launchRedisServer(options, dir, ownDir);
  } catch (error) {
    // Nobody will stop a server that never started: its temporary folder goes now.
    if (ownDir) await rm(dir, { recursive: true, force: true });
    throw error;
  }
}

async function launchRedisServer(options: RedisServerOptions, dir: string, ownDir: boolean): Promise<RedisServer> {
  const executable = options.executable ?? 'redis-server';
  // A port can be taken between freePort() and bind; retry a few times with a new one, and only
  // then: any other reason to exit (a corrupt AOF, an unwritable folder) would only repeat.
  for (let attempt = 0; ; attempt++) {
    const port = await freePort();
    const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--maxmemory-policy', 'noeviction'];
    args.push('--appendonly', options.appendOnly ? 'yes' : 'no', ...(options.extraArgs ?? []));
    const launch = withLaunchPrefix(options.launchPrefix, executable, args);
    // Redis logs to stdout, its reasons for exiting included. Read for as long as it runs: a pipe
    // nobody empties would block it once full.
    const child: ChildProcess = spawnLeashed(launch.command, launch.args, { output: { stdout: 'pipe', stderr: 'pipe' } });
    let spawnError: NodeJS.ErrnoException | undefined;
    child.once('error', (error: NodeJS.ErrnoException) => (spawnError = error));
    let exitStatus: string | undefined;
    const exited = new Promise<string>((resolve) =>
      child.once('exit', (code, signal) => {
        exitStatus = signal ?? `code ${code}`;
        resolve(exitStatus);
      }),
    );
    let output = '';
    let saidReady = false;
    const keep = (chunk: Buffer) => {
      output = (output + chunk.toString()).slice(-4000);
      saidReady ||= readyLine.test(output);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    // The exit event can come before the last output is read: wait for both streams to end.
    const outputClosed = Promise.all([child.stdout, child.stderr].map((stream) => (stream ? new Promise((resolve) => stream.once('close', resolve)) : undefined)));
    // Up once our own server says it listens, and the port answers. A PONG alone can come from
    // another process that took the port between freePort() and our bind: ours then exits with
    // "Address already in use", and is retried below on a new port.
    const deadline = Date.now() + 10_000;
    while (exitStatus === undefined && spawnError === undefined && Date.now() < deadline && !(saidReady && (await ping(port)))) await sleep(20);
    if (spawnError) throw spawnError;
    if (exitStatus !== undefined) {
      await Promise.race([outputClosed, sleep(1000)]);
      // The leash (sh) reports a command it cannot find as status 127.
      if (exitStatus === `code ${commandNotFoundStatus}`) throw new RedisServerNotFoundError(executable);
      if (/Address already in use/.test(output) && attempt < 3) continue;
      throw new RedisServerStartError(dir, lastLogLine(output), exitStatus);
    }
    if (Date.now() >= deadline) {
      signalLeashed(child, 'SIGKILL');
      // Gone before its folder is removed: it could still be writing into it.
      await Promise.race([exited, sleep(2_000)]);
      throw new Error(`redis-server was not ready on port ${port} within 10 s: ${saidReady ? 'it said so, but no PONG came' : 'it never logged "Ready to accept connections"'} (data folder ${dir})`);
    }
    let stopped: Promise<void> | undefined;
    return {
      url: `redis://127.0.0.1:${port}`,
      port,
      exited,
      lastLine: () => lastLogLine(output),
      stop(signal: NodeJS.Signals = 'SIGTERM') {
        stopped ??= (async () => {
          if (exitStatus === undefined) {
            signalLeashed(child, signal);
            await exited;
          }
          if (ownDir) await rm(dir, { recursive: true, force: true });
        })();
        return stopped;
      },
    };
  }
}
