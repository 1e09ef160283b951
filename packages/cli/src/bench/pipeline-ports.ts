import { freePort } from '@gradcam/dev-services';

/**
 * Free ports for one stack, each handed out once. A probe's socket is closed before the service
 * binds the port, so the kernel can offer the same port to the next probe: two services were given
 * one port that way (the exporter and the review service, with 8 worker processes on 16 cores).
 */
export class StackPorts {
  private readonly given = new Set<number>();

  /** One free port not handed out before. */
  async one(): Promise<number> {
    for (let attempt = 0; attempt < 50; attempt++) {
      const port = await freePort();
      if (this.given.has(port)) continue;
      this.given.add(port);
      return port;
    }
    throw new Error('found no free port on 127.0.0.1 that was not handed out already');
  }
}
