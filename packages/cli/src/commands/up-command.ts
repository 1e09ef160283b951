import { parseArgs } from 'node:util';
import { readLocalStackConfig } from '@gradcam/config';
import { RedisServerNotFoundError, RedisServerStartError } from '@gradcam/dev-services';
import { UsageError } from '../cli-error.ts';
import { LocalStackError } from '../local-stack/local-stack-error.ts';
import { type LocalStack, StackStartAbortedError, startLocalStack } from '../local-stack/local-stack.ts';
import { watchParent } from '../local-stack/parent-watch.ts';
import { ServiceExitedError } from '../local-stack/service-exited-error.ts';
import { handleStopSignals } from '../local-stack/stop-signals.ts';

export const upUsage = `Usage: gradcam up [--quiet]   (npm start)

Runs the pipeline on this machine: ingest (:8080), worker processes (one per core), the
metrics exporter (:9464) and the review service with its page (:8081). Redis: REDIS_URL, else a private redis-server on a free port with its
data in .gradcam/redis. Storage: S3 when S3_BUCKET (and S3_ENDPOINT) are set, else
GRADCAM_STORAGE_DIR, else .gradcam/storage. One stack per state folder (GRADCAM_STATE_DIR), and
each port must be free. Stop with Ctrl-C (or SIGTERM, closing its terminal, or ending the process that started it):
workers finish their current batch first (a third Ctrl-C exits at once).

  --quiet   print only the URLs and tokens, and errors (a refusal, a service's last error line
            when it dies): none of the services' log lines, nor gradcam up's notes and warnings`;

/** Where the stack stores everything, for the banner: the folder, or `s3://bucket/prefix/ at <endpoint>`. */
export function storagePlace(stack: Pick<LocalStack, 'storageDir' | 's3'>): string {
  return stack.s3 ? `${stack.s3.url} at ${stack.s3.location}` : (stack.storageDir ?? '');
}

export async function upCommand(argv: readonly string[]): Promise<number> {
  const { values } = parseArgs({ args: [...argv], options: { help: { type: 'boolean', short: 'h' }, quiet: { type: 'boolean' } } });
  if (values.help) {
    console.log(upUsage);
    return 0;
  }
  const config = readLocalStackConfig(process.env);
  // Handlers first: a Ctrl-C while the models load (up to two minutes) must stop what has
  // started, in order, rather than kill this process and leave Redis and services holding ports.
  const stopRequest = new AbortController();
  // Output whose reader is gone (a closed terminal, a dead launcher) must not crash the ordered stop.
  const ignoreLostOutput = () => {
    for (const stream of [process.stdout, process.stderr]) stream.on('error', () => {});
  };
  handleStopSignals({
    stop: (signal) => {
      if (signal === 'SIGHUP') ignoreLostOutput();
      stopRequest.abort();
    },
    waiting: () => console.log('still stopping: the workers finish their current batch, then the exporter and Redis stop; Ctrl-C again to exit at once'),
    force: (exitCode) => process.exit(exitCode),
  });
  // Ending the launcher ends the stack too (npm killed, a terminal closed): nobody could stop it.
  watchParent(() => {
    ignoreLostOutput();
    console.log('the process that started gradcam up is gone; stopping');
    stopRequest.abort();
  });
  const stopRequested = new Promise<void>((resolve) => stopRequest.signal.addEventListener('abort', () => resolve(), { once: true }));
  // Announced once the settings are checked: a refusal stays the one line the README promises.
  const announce = () => console.log(`starting the local stack (${config.workerProcesses} worker process${config.workerProcesses === 1 ? '' : 'es'})…`);
  let stack;
  try {
    stack = await startLocalStack({ config, signal: stopRequest.signal, onChecked: announce, ...(values.quiet ? {} : { onLine: (line) => console.log(line) }) });
  } catch (error) {
    if (error instanceof StackStartAbortedError) {
      console.log('stopped before the stack was up');
      return 0;
    }
    if (error instanceof RedisServerNotFoundError) throw new UsageError(error.message);
    // Another stack on the folder or a port, an unreachable REDIS_URL, a service never ready, a
    // private Redis that would not start: one line each, no stack trace.
    if (error instanceof LocalStackError || error instanceof RedisServerStartError) {
      console.error(`gradcam up: ${error.message}`);
      return 1;
    }
    // One line with the service's last error line (with --quiet too): exit 2 for a
    // configuration error, as for one found before the start.
    if (error instanceof ServiceExitedError) {
      console.error(`gradcam up: ${error.message}`);
      return error.configurationError ? 2 : 1;
    }
    throw error;
  }
  console.log(`
gradcam pipeline is up
  ingest            ${stack.ingestUrl}   (POST /v1/inferences, GET and DELETE /v1/inferences/{id})
  metrics exporter  ${stack.exporterUrl}/metrics
  worker metrics    ${stack.workerMetricsUrl}/metrics
  review page       ${stack.reviewUrl}/   (reviewer token ${stack.reviewToken})
  redis             ${stack.redisUrl}
  storage           ${storagePlace(stack)}
  models            ${stack.models.join(', ')}
  API token         ${stack.token}
  erase token       ${stack.eraseToken}   (DELETE /v1/inferences/{id} only)

Try: ${demoCommand(config.stateDir)}   (posts the sample images and prints where their explanations landed)
Stop: Ctrl-C`);
  const died = await Promise.race([stopRequested.then(() => undefined), stack.died]);
  if (died !== undefined) {
    console.error(`gradcam up: ${died.message}; stopping the rest of the stack`);
    await stack.stop();
    return 1;
  }
  console.log('stopping: workers finish their current batch…');
  await stack.stop();
  console.log(config.redisUrl === undefined ? 'stopped: the services and the private Redis have exited' : 'stopped: the services have exited (the Redis at REDIS_URL keeps running)');
  return 0;
}

/**
 * The demo command for this stack: the demo finds the stack by its state folder, so one other than
 * the default must be named to it too (plain `npm run demo` would look in .gradcam and find nothing).
 */
export function demoCommand(stateDir: string): string {
  if (stateDir === '.gradcam') return 'npm run demo';
  const quoted = /^[\w./-]+$/.test(stateDir) ? stateDir : `'${stateDir.replaceAll("'", "'\\''")}'`;
  return `GRADCAM_STATE_DIR=${quoted} npm run demo`;
}
