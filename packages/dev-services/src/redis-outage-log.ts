import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './free-port.ts';
import { startOutageProxy } from './outage-proxy.ts';
import { startRedisServer } from './redis-server.ts';
import { startServiceMain } from './service-main.ts';

export interface RedisOutageLogOptions {
  /** The service's main module, from the repository root (`services/ingest/src/main.ts`). */
  readonly entry: string;
  /** Its own variables for a port (GRADCAM_INGEST_PORT, tokens): Redis, host, storage and log level are set here. */
  readonly env: (port: number) => Record<string, string>;
  /** How long Redis is cut off (10 s). */
  readonly outageMs?: number;
}

/**
 * Runs a service's main as in production against a real Redis reached through a proxy, cuts the
 * proxy for `outageMs` while /readyz is probed every second (as an orchestrator would), restores
 * it, and waits until the service is ready again and has logged `Redis answers again`. Resolves
 * with the warning and error lines logged during the outage, for a test to hold to a few.
 */
export async function redisOutageLog(options: RedisOutageLogOptions): Promise<string[]> {
  const redis = await startRedisServer();
  const proxy = await startOutageProxy(redis.port);
  const storage = await mkdtemp(join(tmpdir(), 'gradcam-outage-log-'));
  const port = await freePort();
  const service = startServiceMain(options.entry, {
    ...process.env,
    REDIS_URL: `redis://127.0.0.1:${proxy.port}`,
    GRADCAM_HOST: '127.0.0.1',
    GRADCAM_STORAGE_DIR: storage,
    LOG_LEVEL: 'info',
    ...options.env(port),
  });
  const readyz = `http://127.0.0.1:${port}/readyz`;
  const warnings = () => service.output().split('\n').filter((line) => /"level":(40|50)/.test(line));
  let probing: NodeJS.Timeout | undefined;
  try {
    await service.untilReady(readyz);
    const before = warnings().length;
    proxy.cut();
    probing = setInterval(() => void fetch(readyz).catch(() => {}), 1_000);
    await new Promise((resolve) => setTimeout(resolve, options.outageMs ?? 10_000));
    const during = warnings().slice(before);
    clearInterval(probing);
    proxy.restore();
    await service.untilReady(readyz);
    await service.untilOutput('Redis answers again');
    return during;
  } finally {
    clearInterval(probing);
    await service.stop();
    await proxy.close();
    await redis.stop();
    await rm(storage, { recursive: true, force: true });
  }
}
