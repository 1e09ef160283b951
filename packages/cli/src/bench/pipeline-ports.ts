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
 * The first of `count` consecutive free ports: worker process i serves its metrics on the
 * configured port + i, so a free first port alone is not enough with several processes.
 */
export async function freePortRange(count: number): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const first = await freePort();
    if (first + count - 1 > 65_535) continue;
    let free = true;
    for (let port = first + 1; port < first + count && free; port++) free = await canBind(port);
    if (free) return first;
  }
  throw new Error(`found no ${count} consecutive free ports on 127.0.0.1`);
}
