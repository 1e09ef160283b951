import { createServer } from 'node:net';
import { freePort } from '@gradcam/dev-services';

function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/**
 * Free ports for one stack, each handed out once. A probe's socket is closed before the service
 * binds the port, so the kernel can offer the same port to the next probe: two services were given
 * one port that way (the exporter and the review service, with 8 worker processes on 16 cores).
 */
export class StackPorts {
  private readonly given = new Set<number>();

  /** One free port not handed out before. */
  one(): Promise<number> {
    return this.range(1);
  }

  /**
   * The first of `count` consecutive free ports: worker process i serves its metrics on the
   * configured port + i, so a free first port alone is not enough with several processes.
   */
  async range(count: number): Promise<number> {
    for (let attempt = 0; attempt < 50; attempt++) {
      const first = await freePort();
      const ports = Array.from({ length: count }, (_, i) => first + i);
      if (ports.some((port) => port > 65_535 || this.given.has(port))) continue;
      let free = true;
      for (let i = 1; i < count && free; i++) free = await canBind(first + i);
      if (!free) continue;
      for (const port of ports) this.given.add(port);
      return first;
    }
    throw new Error(`found no ${count} consecutive free ports on 127.0.0.1`);
  }
}
