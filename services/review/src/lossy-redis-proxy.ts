import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

/** A TCP proxy in front of Redis that loses or holds back the reply to one chosen command. */
export interface LossyRedisProxy {
  /** `redis://127.0.0.1:<port>` of the proxy. */
  readonly url: string;
  /**
   * The next command whose bytes contain `marker` reaches Redis, which runs it; then the
   * connection is cut before its reply reaches the client (ioredis reconnects and sends the
   * command again). `refuseReconnectsMs`: for that long after the cut, every new connection is
   * closed at once (a reconnect slower than the command timeout).
   */
  dropReplyTo(marker: string, options?: { refuseReconnectsMs?: number }): void;
  /** The replies from the time the next command containing `marker` is sent arrive `ms` late (a slow Redis). */
  holdRepliesTo(marker: string, ms: number): void;
  /** How many replies were dropped or held so far (a test checks its marker was met). */
  readonly hits: number;
  close(): Promise<void>;
}

/**
 * For the tests: what a flaky network or a stalled Redis does to the review service's commands.
 * Commands are matched on their bytes (a Lua script's own text), including across two reads.
 */
export async function startLossyRedisProxy(redisPort: number): Promise<LossyRedisProxy> {
  let armed: { marker: string; hold: number | undefined; blackoutMs: number } | undefined;
  let hits = 0;
  let refuseUntil = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    if (Date.now() < refuseUntil) {
      client.destroy();
      return;
    }
    const upstream = net.connect(redisPort, '127.0.0.1');
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
    }
    let tail = '';
    let dropNext: { blackoutMs: number } | undefined;
    let heldUntil = 0;
    let forwarded = Promise.resolve();
    client.on('data', (chunk: Buffer) => {
      const text = tail + chunk.toString('latin1');
      if (armed && text.includes(armed.marker)) {
        hits++;
        if (armed.hold === undefined) dropNext = { blackoutMs: armed.blackoutMs };
        else heldUntil = Date.now() + armed.hold;
        armed = undefined;
      }
      tail = text.slice(-256);
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      if (dropNext) {
        // Redis ran the command; its reply is lost with the connection.
        refuseUntil = Date.now() + dropNext.blackoutMs;
        client.destroy();
        upstream.destroy();
        return;
      }
      // In order: a reply arriving after the hold must not overtake one still held.
      const until = heldUntil;
      forwarded = forwarded.then(async () => {
        const wait = until - Date.now();
        if (wait > 0) await sleep(wait);
        if (!client.destroyed) client.write(chunk);
      });
    });
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    url: `redis://127.0.0.1:${port}`,
    dropReplyTo: (marker, options = {}) => {
      armed = { marker, hold: undefined, blackoutMs: options.refuseReconnectsMs ?? 0 };
    },
    holdRepliesTo: (marker, ms) => {
      armed = { marker, hold: ms, blackoutMs: 0 };
    },
    get hits() {
      return hits;
    },
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
