import { type Server, createServer } from 'node:http';
import { type Registry, metricsResponse } from '@gradcam/telemetry';

/**
 * The worker's own small HTTP surface: /metrics for Prometheus, /healthz (the process is alive)
 * and /readyz (models loaded, consuming the queue).
 */
export async function startStatusServer(options: { host: string; port: number; registry: Registry; ready: () => boolean }): Promise<Server> {
  const server = createServer((request, response) => {
    const path = (request.url ?? '/').split('?')[0];
    if (path === '/metrics') {
      metricsResponse(options.registry).then(
        ({ contentType, body }) => response.writeHead(200, { 'content-type': contentType }).end(body),
        (error: unknown) => response.writeHead(500).end(String(error)),
      );
    } else if (path === '/healthz') {
      response.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
    } else if (path === '/readyz') {
      const ready = options.ready();
      response.writeHead(ready ? 200 : 503, { 'content-type': 'application/json' }).end(JSON.stringify({ status: ready ? 'ready' : 'starting' }));
    } else {
      response.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, resolve);
  });
  return server;
}
