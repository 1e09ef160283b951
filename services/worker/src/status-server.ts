import type { AddressInfo } from 'node:net';
import { NotReadyError, registerOperationalRoutes, registerServiceDefaults, scrapeWaitMs, serviceServerOptions } from '@gradcam/http-service';
import type { MetricsResponse } from '@gradcam/telemetry';
import Fastify, { type FastifyInstance } from 'fastify';

export interface StatusServerOptions {
  readonly host: string;
  /** 0: any free port (see `listeningOn`). */
  readonly port: number;
  /**
   * The /metrics answer: one registry's, or the sum of the engine processes' (the supervisor),
   * collected within `waitMs` where the scrape says how long it waits (see scrapeWaitMs).
   */
  readonly scrape: (waitMs: number | undefined) => Promise<MetricsResponse>;
  /** Why /readyz answers 503, or undefined when ready. */
  readonly notReady: () => string | undefined;
}

/**
 * The worker replica's one small HTTP surface, the same as every service's: /metrics for
 * Prometheus, /healthz (the process is alive) and /readyz (models loaded, consuming the queue,
 * storage usable: 503 with the reason `notReady` gives otherwise).
 */
export async function startStatusServer(options: StatusServerOptions): Promise<FastifyInstance> {
  const app = Fastify({ ...serviceServerOptions(), logger: false });
  registerServiceDefaults(app);
  registerOperationalRoutes(app, {
    checkReady: async () => {
      const reason = options.notReady();
      if (reason !== undefined) throw new NotReadyError(reason);
    },
    scrape: (headers) => options.scrape(scrapeWaitMs(headers)),
  });
  await app.listen({ port: options.port, host: options.host });
  return app;
}

/** The start-up line naming the address the server took (the port, when it was 0). */
export function listeningOn(server: FastifyInstance): string {
  const address = server.server.address() as AddressInfo;
  return `status server (/metrics, /healthz, /readyz) on ${address.address}:${address.port}`;
}
