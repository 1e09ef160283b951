import type { ChildProcess } from 'node:child_process';
import { isReadyAnnouncement, notReadyReport } from './announce-ready.ts';
import { heartbeatIntervalMs, isHeartbeat } from './heartbeat.ts';

/** SIGINTs closer together than this are one Ctrl-C (see stopOnSignals). */
const samePressWindowMs = 500;
/** The longest delay a Node timer takes (2^31 - 1 ms). */
const maxTimerMs = 2 ** 31 - 1;

/**
 * Why the supervisor restarted a process, a closed set (a metric label for its callers):
 * `crashed`, it exited without being asked (non-zero, a signal the supervisor did not send, even
 * code 0: a supervised process is not meant to end by itself), before or after it was ready;
 * `unresponsive`, the heartbeat watchdog SIGKILLed it (ready, then its event loop stayed blocked).
 */
export const restartReasons = ['crashed', 'unresponsive'] as const;
export type RestartReason = (typeof restartReasons)[number];

/** How a restarted process ended, as its 'exit' event said; both null when it never started (its spawn failed). */
export interface ProcessExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/**
 * Where the supervisor's lines go, by level (a pino logger is one): `info` for what goes as meant
 * (a stop, a signal), `warn` for a process that ended unasked and is restarted (a crash, an
 * unresponsive one killed, a drain that failed), `error` for giving up, after which the
 * supervising process exits 1. An operator watching warn and above sees every crash.
 */
export interface SupervisorLog {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

export interface SupervisorOptions {
  /** How many processes to keep running. */
  readonly processes: number;
  /**
   * Starts process `index` (0…processes−1): `child_process.fork` for independent processes,
   * forkClusterProcess() (`cluster.fork().process`, made safe) for processes that share a
   * listening socket. A process that cannot be spawned (ENOENT, EAGAIN, ENOMEM: 'error' and no
   * 'exit', or a throw) is a start-up crash, restarted or given up on as any other.
   */
  readonly spawn: (index: number) => ChildProcess;
  readonly log: SupervisorLog;
  /** What the processes are called in log lines, e.g. 'worker process'. */
  readonly label: string;
  /**
   * Restart delay after a crash, doubled per successive quick crash (on start-up, or with
   * announcesReady soon after ready: see stableAfterMs), capped at 30 s.
   */
  readonly restartDelayMs?: number;
  /**
   * How long stop() lets a child drain after its signal before SIGKILL (default 30 s): a child
   * stuck in its shutdown (say, closing a connection to a Redis that is down) must not keep the
   * supervisor from exiting. Give more than the child's own shutdown deadline.
   */
  readonly killAfterMs?: number;
  /**
   * The children call announceReady() once started. A child that exits before it announced is
   * then a start-up crash, however long its start took (loading a model can take longer than any
   * fixed window), and when a slot has crashed on start-up `startupCrashLimit` times in a row
   * without any of its processes ever getting ready, the supervisor gives up: a failure that
   * repeats on every start (a bad setting, a missing file) ends the supervising process (see
   * stopOnSignals) where its orchestrator sees it, instead of restarting forever behind a live
   * /healthz. Without it (children that never announce, such as node:cluster HTTP workers), a
   * child that dies within 10 s of its start counts as a start-up crash and the supervisor never
   * gives up.
   */
  readonly announcesReady?: boolean;
  /** See announcesReady (default 5). */
  readonly startupCrashLimit?: number;
  /**
   * With announcesReady (default 60 s): a process that exits within this of announcing it is
   * ready is backed off from as from a start-up crash (the delay keeps doubling), so a crash that
   * repeats soon after every start (a poison job, a native abort on the first batch) does not
   * reload the models at the base delay for ever. One that stayed up this long restarts at the
   * base delay again. It never leads to giving up: the slot has been ready.
   */
  readonly stableAfterMs?: number;
  /**
   * With announcesReady: a child that exits with this code before it is ready says its start
   * failed for a reason every start would meet again (a bad setting, an unknown model), so the
   * supervisor gives up at once instead of after `startupCrashLimit` slow starts.
   */
  readonly givesUpOnStartupExitCode?: number;
  /**
   * The watchdog (none by default): a child that has announced it is ready and then sends no
   * heartbeat (announceReady starts them, one a second) for this long has its event loop blocked,
   * say by a synchronous native call that never returns. It would never exit by itself, yet would
   * still be counted, so the supervisor SIGKILLs it and restarts it as after a crash. Such a kill
   * is not a start-up crash: the child was ready. A child that is not ready yet (loading) is not
   * watched. Give well more than the longest synchronous stretch a healthy child may have; at
   * least 3 heartbeats' worth.
   */
  readonly heartbeatTimeoutMs?: number;
  /**
   * Called each time a process exits unasked and its restart is scheduled (before the delay), with
   * why (for a restart counter) and how it ended. Not for exits during stop(), nor for the last
   * start-up crash, after which the supervisor gives up instead of restarting. Must not throw.
   */
  readonly onRestart?: (index: number, reason: RestartReason, exit: ProcessExit) => void;
}

export interface StopResult {
  /**
   * Every child exited with code 0, or died of the signal sent before it had a handler for it
   * (still starting): none failed its drain, died of another signal, or needed SIGKILL.
   */
  readonly clean: boolean;
}

/** Without announcesReady: a process that dies sooner than this after its start crashed on start-up. */
const quickCrashMs = 10_000;
const maxRestartDelayMs = 30_000;

/** What the supervisor knows of one index across the processes it started there. */
interface Slot {
  /** Start-up crashes in a row (reset once a process there gets ready). */
  startupCrashes: number;
  /** Quick crashes in a row: start-up ones and those soon after ready (reset by a crash after a stable run). */
  quickCrashes: number;
  /** Some process at this index announced it was ready. */
  everReady: boolean;
}

/**
 * Keeps N copies of a process running (one per core for CPU-bound services on a single-threaded
 * runtime) and restarts any that die. stop() forwards the signal and resolves once every child has
 * exited, so each one drains its own work (a batch, open requests) first.
 */
export class ProcessSupervisor {
  private readonly children = new Map<number, ChildProcess>();
  /** Indexes whose current process has announced it is ready (announceReady). */
  private readonly ready = new Set<number>();
  /** Indexes whose current process said it cannot take work for now (reportNotReady), with why. */
  private readonly notReady = new Map<number, string>();
  private readonly slots = new Map<number, Slot>();
  private readonly restartDelayMs: number;
  private readonly killAfterMs: number;
  private readonly startupCrashLimit: number;
  private readonly stableAfterMs: number;
  private stopping = false;
  /** Set by stopOnSignals: what to do once the supervisor has given up on a crash loop. */
  private onGaveUp: (() => void) | undefined;

  private readonly options: SupervisorOptions;

  constructor(options: SupervisorOptions) {
    this.options = options;
    this.restartDelayMs = options.restartDelayMs ?? 1000;
    this.killAfterMs = options.killAfterMs ?? 30_000;
    this.startupCrashLimit = options.startupCrashLimit ?? 5;
    this.stableAfterMs = options.stableAfterMs ?? 60_000;
    // Tighter, and one heartbeat delayed by timer jitter or a busy moment would kill a healthy child.
    if (options.heartbeatTimeoutMs !== undefined && options.heartbeatTimeoutMs < 3 * heartbeatIntervalMs) {
      throw new RangeError(`heartbeatTimeoutMs must be at least ${3 * heartbeatIntervalMs} ms (3 heartbeats), got ${options.heartbeatTimeoutMs}`);
    }
    // Node runs a longer timer after 1 ms instead: the watchdog would re-arm in a loop.
    if (options.heartbeatTimeoutMs !== undefined && options.heartbeatTimeoutMs > maxTimerMs) {
      throw new RangeError(`heartbeatTimeoutMs must be at most ${maxTimerMs} ms (a Node timer's limit), got ${options.heartbeatTimeoutMs}`);
    }
  }

  start(): void {
    for (let index = 0; index < this.options.processes; index++) {
      this.slots.set(index, { startupCrashes: 0, quickCrashes: 0, everReady: false });
      this.startOne(index);
    }
  }

  private startOne(index: number): void {
    // A slot given up on while start() was still starting the others (a spawn that throws).
    if (this.stopping) return;
    const { label, log } = this.options;
    const slot = this.slots.get(index) as Slot;
    const started = Date.now();
    /** When it announced it was ready, if it has. */
    let readyAt: number | undefined;
    /** When its last heartbeat (or its announcement) was read, on the monotonic clock the timers use. */
    let heardAt = 0;
    let watchdog: { stop(): void } | undefined;
    /** The watchdog SIGKILLed this one: its exit is the supervisor's doing, not a crash. */
    let unresponsive = false;
    let child: ChildProcess | undefined;
    /** Set by the first of 'exit' and a spawn failure: one end, one restart. */
    let ended = false;
    const end = (exit: ProcessExit, how: string) => {
      if (ended) return;
      ended = true;
      watchdog?.stop();
      if (child !== undefined && this.children.get(index) === child) this.children.delete(index);
      this.ready.delete(index);
      this.notReady.delete(index);
      if (this.stopping) return;
      const startupCrash = this.options.announcesReady === true ? readyAt === undefined : Date.now() - started < quickCrashMs;
      const soonAfterReady = readyAt !== undefined && Date.now() - readyAt < this.stableAfterMs;
      this.restart(index, slot, { startupCrash, quickCrash: startupCrash || soonAfterReady, reason: unresponsive ? 'unresponsive' : 'crashed', exit, how });
    };
    try {
      child = this.options.spawn(index);
    } catch (error) {
      // Some spawn failures throw (ENOMEM, and whatever spawn() itself throws) rather than emit 'error'.
      return end({ code: null, signal: null }, error instanceof Error ? error.message : String(error));
    }
    const spawned = child;
    this.children.set(index, spawned);
    spawned.on('error', (error) => {
      // A process that never started (ENOENT, EAGAIN) emits 'error' and never 'exit': this is its
      // end, a start-up crash. One that did start (a kill() or send() that failed) ends by 'exit'.
      if (spawned.pid === undefined) end({ code: null, signal: null }, error.message);
      else log.warn(`${label} ${index}: ${error.message}`);
    });
    spawned.on('message', (message: unknown) => {
      if (this.children.get(index) !== spawned) return;
      if (isHeartbeat(message)) {
        heardAt = performance.now();
        return;
      }
      const notReady = notReadyReport(message);
      if (notReady !== undefined) {
        if (notReady === null) this.notReady.delete(index);
        else this.notReady.set(index, notReady);
        return;
      }
      if (!isReadyAnnouncement(message)) return;
      readyAt ??= Date.now();
      heardAt = performance.now();
      slot.everReady = true;
      slot.startupCrashes = 0;
      if (!this.stopping) this.ready.add(index);
      watchdog ??= this.watchHeartbeats(index, spawned, () => heardAt, () => (unresponsive = true));
    });
    spawned.once('exit', (code, signal) => end({ code, signal }, signal ?? `code ${code}`));
  }

  /**
   * After a process at `index` ended unasked (exited, or never started): restarts it, backing off
   * while it keeps crashing on start-up, or gives up on a slot that never gets ready.
   */
  private restart(index: number, slot: Slot, ending: { startupCrash: boolean; quickCrash: boolean; reason: RestartReason; exit: ProcessExit; how: string }): void {
    const { label, log } = this.options;
    const { startupCrash, quickCrash, reason, exit, how } = ending;
    slot.startupCrashes = startupCrash ? slot.startupCrashes + 1 : 0;
    slot.quickCrashes = quickCrash ? slot.quickCrashes + 1 : 0;
    if (this.options.announcesReady === true) {
      const hopeless = startupCrash && exit.code !== null && exit.code === this.options.givesUpOnStartupExitCode;
      const crashLoop = !slot.everReady && slot.startupCrashes >= this.startupCrashLimit;
      if (hopeless || crashLoop) {
        const why = hopeless ? `(${how}: a failure every start would repeat)` : `${slot.startupCrashes} times in a row (last: ${how})`;
        log.error(`${label} ${index} exited before it was ready ${why}; giving up: stopping the other processes`);
        void this.stop('SIGTERM').then(() => this.onGaveUp?.());
        return;
      }
    }
    // A process that crashes on start-up, or soon after it, would crash in a tight loop: back off.
    const next = Math.min(this.restartDelayMs * 2 ** slot.quickCrashes, maxRestartDelayMs);
    const what = exit.code === null && exit.signal === null ? 'did not start' : 'exited';
    log.warn(`${label} ${index} ${what} (${how}); restarting in ${next} ms`);
    this.options.onRestart?.(index, reason, exit);
    setTimeout(() => this.stopping || this.startOne(index), next);
  }

  /**
   * Armed when `child` announces it is ready: SIGKILLs it once it has been silent (no heartbeat
   * read, `heardAt` on performance.now()) for heartbeatTimeoutMs, after calling `onKill`. Its exit
   * then restarts it like any crash. One timer, due when the silence would reach the limit; a
   * heartbeat only moves `heardAt`, and a check that finds the child heard from since re-arms for
   * what is left, so a stuck child is always checked again.
   */
  private watchHeartbeats(index: number, child: ChildProcess, heardAt: () => number, onKill: () => void): { stop(): void } | undefined {
    const { heartbeatTimeoutMs, label, log } = this.options;
    if (heartbeatTimeoutMs === undefined) return undefined;
    let timer: NodeJS.Timeout | undefined;
    let stopped = false;
    const arm = (ms: number) => {
      timer = setTimeout(check, ms);
      // The children keep the supervisor alive, not their watchdogs.
      timer.unref();
    };
    // When this process's own event loop was blocked past the limit (a long synchronous task, a
    // paused container), the expired timer runs before the heartbeats that came meanwhile are read:
    // let them in first (the poll phase reads them before setImmediate's turn).
    const check = () =>
      setImmediate(() => {
        if (stopped || this.children.get(index) !== child) return;
        const silent = performance.now() - heardAt();
        // Rounded up: a timer may fire a fraction of a millisecond early against this clock.
        if (silent < heartbeatTimeoutMs) return arm(Math.ceil(heartbeatTimeoutMs - silent) + 1);
        log.warn(`${label} ${index} sent no heartbeat for ${heartbeatTimeoutMs} ms: its event loop is blocked (a synchronous call that does not return?); SIGKILL`);
        onKill();
        child.kill('SIGKILL');
      });
    arm(heartbeatTimeoutMs);
    return {
      stop: () => {
        stopped = true;
        clearTimeout(timer);
      },
    };
  }

  /**
   * How many of the processes are ready: those whose current process has announced it
   * (announceReady) since it started and has no reportNotReady in force. A process that exits is
   * not ready, nor its replacement until it announces again. Once stop() has begun none is
   * (`stopping`): they no longer take work. `notReady`: the reasons in force (reportNotReady), one
   * per process in index order, announced or not, each process's last; a process that exits takes
   * its reason with it.
   */
  readiness(): { readonly ready: number; readonly processes: number; readonly stopping: boolean; readonly notReady: readonly string[] } {
    const notReady = [...this.notReady].sort(([a], [b]) => a - b).map(([, reason]) => reason);
    const ready = [...this.ready].filter((index) => !this.notReady.has(index)).length;
    return { ready, processes: this.options.processes, stopping: this.stopping, notReady };
  }

  /**
   * For a supervising process, which then ends with its children: on SIGTERM or SIGINT, stops
   * every child with SIGTERM (so each one drains; Ctrl-C reaches them too) and exits once they
   * are gone, 0 if every one exited cleanly, else 1 (as a single process whose drain failed
   * does). When the supervisor gives up on a crash loop (announcesReady), it exits 1 once the
   * other children are stopped.
   *
   * The handlers stay: a SIGTERM or SIGINT while it stops (a second Ctrl-C, an impatient second
   * `kill`) is logged and otherwise ignored. Node's default would end this process at once: a
   * node:cluster primary takes its workers' in-flight requests with it, and forked children that
   * do not watch their channel (exitWithSupervisor) would run on under init. Past its grace period
   * the orchestrator SIGKILLs anyway, and stop() SIGKILLs a child that overruns killAfterMs. At a
   * terminal, a third Ctrl-C (SIGINT) is the way out of a drain that hangs: every child is
   * SIGKILLed and the process exits 1 (orchestrators send SIGTERM, which never forces). SIGINTs
   * within half a second of the last count as one press: one Ctrl-C can arrive twice (from the
   * terminal, and forwarded by a launcher such as tsx or npm), as `gradcam up` also allows for.
   */
  stopOnSignals(): void {
    const { label, log, processes } = this.options;
    let signalled = false;
    let presses = 0;
    let lastInterrupt = Number.NEGATIVE_INFINITY;
    const onSignal = (signal: NodeJS.Signals) => {
      if (signal === 'SIGINT') {
        const now = performance.now();
        const samePress = now - lastInterrupt < samePressWindowMs;
        lastInterrupt = now;
        if (samePress) return;
        presses++;
      }
      if (presses >= 3) {
        log.warn(`SIGINT a third time: SIGKILL to every ${label}, exiting without waiting for the drain`);
        for (const child of this.children.values()) child.kill('SIGKILL');
        return process.exit(1);
      }
      // this.stopping without a signal: the supervisor gave up, and exits once the others stopped.
      if (signalled || this.stopping) return log.info(`${signal}: already stopping; waiting for each ${label} to drain${signal === 'SIGINT' ? ' (Ctrl-C again to kill them)' : ''}`);
      signalled = true;
      log.info(`${signal}: stopping ${processes} × ${label}`);
      void this.stop('SIGTERM').then(({ clean }) => process.exit(clean ? 0 : 1));
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
    this.onGaveUp = () => process.exit(1);
  }

  /**
   * Sends `signal` to every child, SIGKILL to any still running `killAfterMs` later; resolves once
   * all have exited, saying whether each exited cleanly (code 0, or of `signal` itself while it
   * had no handler for it yet).
   */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<StopResult> {
    this.stopping = true;
    this.ready.clear();
    const { label, log } = this.options;
    const clean = await Promise.all(
      [...this.children].map(
        ([index, child]) =>
          new Promise<boolean>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) return resolve(child.exitCode === 0);
            // Its spawn failed ('error' not emitted yet): there is no process to stop.
            if (child.pid === undefined) return resolve(true);
            let killed = false;
            const kill = setTimeout(() => {
              log.warn(`${label} ${index} still running ${this.killAfterMs} ms after ${signal}: SIGKILL`);
              killed = true;
              child.kill('SIGKILL');
            }, this.killAfterMs);
            child.once('exit', (code, exitSignal) => {
              clearTimeout(kill);
              // Dying of the very signal sent means no handler of its own yet: a process still
              // starting, which has taken no work to drain. Any other signal is a failure.
              const clean = !killed && (code === 0 || exitSignal === signal);
              if (!killed && !clean) log.warn(`${label} ${index} exited (${exitSignal ?? `code ${code}`}) after ${signal}`);
              resolve(clean);
            });
            child.kill(signal);
          }),
      ),
    );
    return { clean: clean.every(Boolean) };
  }
}
