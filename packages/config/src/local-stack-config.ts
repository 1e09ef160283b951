import { availableParallelism } from 'node:os';
import { ConfigError } from './config-error.ts';
import type { Env } from './env-reader.ts';
import { EnvReader } from './env-reader.ts';

/** What `gradcam up` (npm start) needs to decide before it starts the services. */
export interface LocalStackConfig {
  /** Use this Redis instead of starting a private redis-server. */
  readonly redisUrl: string | undefined;
  /** GRADCAM_API_TOKENS, all passed to ingest (the first is the one the stack prints and the demo uses); none: one is generated and kept in the state dir. */
  readonly apiTokens: readonly string[];
  /**
   * GRADCAM_ERASE_TOKENS, all passed to ingest (the first is printed); none: one is generated and
   * kept in the state dir, so erasure works on the local stack (unset, ingest disables it).
   */
  readonly eraseTokens: readonly string[];
  readonly ingestPort: number;
  readonly exporterPort: number;
  readonly workerMetricsPort: number;
  readonly reviewPort: number;
  /**
   * Reviewer tokens (`name:token` pairs, empty entries dropped, so the first, which the stack
   * prints, is a real one); one is generated and kept in the state dir when unset or naming none.
   */
  readonly reviewTokens: string | undefined;
  /**
   * Reviewer sampling for the local stack: every explanation by default, so the review page has
   * something to show on a laptop (production workers default to a budget).
   */
  readonly reviewPolicy: string;
  readonly workerProcesses: number;
  /** Where the local stack keeps Redis data, the local object store and its token. */
  readonly stateDir: string;
  readonly s3Configured: boolean;
}

/**
 * The ports fetch will not connect to (the WHATWG fetch standard's "bad ports": X11's 6000, IRC's
 * 6665-6669, SIP's 5060, …), in Node's fetch as in browsers. The stack checks each service's
 * readiness with fetch, the demo posts with it and the review page is opened in a browser: a
 * service on one of these would start, and never be found ready.
 */
export const fetchRefusedPorts: ReadonlySet<number> = new Set([
  1, 7, 9, 11, 13, 15, 17, 19, 20, 21, 22, 23, 25, 37, 42, 43, 53, 69, 77, 79, 87, 95, 101, 102, 103, 104, 109, 110, 111, 113, 115, 117, 119, 123, 135, 137, 139,
  143, 161, 179, 389, 427, 465, 512, 513, 514, 515, 526, 530, 531, 532, 540, 548, 554, 556, 563, 587, 601, 636, 989, 990, 993, 995, 1719, 1720, 1723, 2049, 3659,
  4045, 4190, 5060, 5061, 6000, 6566, 6665, 6666, 6667, 6668, 6669, 6679, 6697, 10080,
]);

/**
 * A fixed port: the stack polls each service at the port it configured, so 0 ("any free port",
 * which the services themselves accept) would leave it waiting on :0 while the service listens
 * somewhere else.
 */
function stackPort(env: EnvReader, name: string, fallback: number): number {
  const raw = env.optionalString(name);
  if (raw !== undefined && /^0+$/.test(raw)) throw new ConfigError(name, 'must be a fixed port from 1 to 65535 for the local stack (0 would make the service pick a port the stack cannot find)');
  const port = env.integer(name, fallback, { min: 1, max: 65_535 });
  if (fetchRefusedPorts.has(port)) {
    throw new ConfigError(name, `${port} is a port fetch refuses to connect to (a "bad port" of the fetch standard, as in browsers): the stack's readiness checks, the demo and the review page could never reach it; pick another port`);
  }
  return port;
}

/**
 * Each service of the stack listens on its own port: two on one port is a bad setting (exit 2),
 * not a port another program holds (exit 1). Names the variable that was set, where one of the
 * two is a default (GRADCAM_EXPORTER_PORT=9465 meets the worker's default).
 */
function distinctPorts(env: EnvReader, ports: readonly (readonly [string, number])[]): void {
  const seen = new Map<number, string>();
  for (const [name, port] of ports) {
    const other = seen.get(port);
    if (other !== undefined) {
      const [named, clashing] = env.optionalString(name) === undefined ? [other, name] : [name, other];
      throw new ConfigError(named, `${port} is also ${clashing}'s port; each service of the stack needs its own`);
    }
    seen.set(port, name);
  }
}

/** The stack hands these to review as they are and prints the first entry's token: never an empty one. */
function reviewTokens(env: EnvReader): string | undefined {
  const entries = env.list('GRADCAM_REVIEW_TOKENS');
  return entries.length === 0 ? undefined : entries.join(',');
}

export function readLocalStackConfig(raw: Env): LocalStackConfig {
  const env = new EnvReader(raw);
  const ingestPort = stackPort(env, 'GRADCAM_INGEST_PORT', 8080);
  const exporterPort = stackPort(env, 'GRADCAM_EXPORTER_PORT', 9464);
  const workerMetricsPort = stackPort(env, 'GRADCAM_WORKER_METRICS_PORT', 9465);
  const reviewPort = stackPort(env, 'GRADCAM_REVIEW_PORT', 8081);
  distinctPorts(env, [
    ['GRADCAM_INGEST_PORT', ingestPort],
    ['GRADCAM_EXPORTER_PORT', exporterPort],
    ['GRADCAM_WORKER_METRICS_PORT', workerMetricsPort],
    ['GRADCAM_REVIEW_PORT', reviewPort],
  ]);
  return {
    redisUrl: env.url('REDIS_URL', undefined, 'redis'),
    // Kept once each, as ingest keeps them.
    apiTokens: [...new Set(env.list('GRADCAM_API_TOKENS'))],
    eraseTokens: [...new Set(env.list('GRADCAM_ERASE_TOKENS'))],
    ingestPort,
    exporterPort,
    workerMetricsPort,
    reviewPort,
    reviewTokens: reviewTokens(env),
    reviewPolicy: env.string('GRADCAM_REVIEW_POLICY', 'rate=1'),
    workerProcesses: env.integer('GRADCAM_WORKER_PROCESSES', availableParallelism(), { min: 1, max: 256 }),
    stateDir: env.string('GRADCAM_STATE_DIR', '.gradcam'),
    s3Configured: env.optionalString('S3_BUCKET') !== undefined,
  };
}

/** The environment for a child service: this process's, with the given values on top. */
export function childEnvironment(overrides: Readonly<Record<string, string>>): NodeJS.ProcessEnv {
  return { ...process.env, ...overrides };
}
