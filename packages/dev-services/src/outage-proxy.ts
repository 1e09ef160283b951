import { type AddressInfo, type Server, type Socket, connect, createServer } from 'node:net';

/** A TCP proxy whose target can be cut off and restored, as by a network outage. */
export interface OutageProxy {
  /** The proxy's port on 127.0.0.1: what clients use instead of the target's. */
  readonly port: number;
  /** Drops every connection, and drops each new one as soon as it is accepted, until restore(). */
  cut(): void;
  restore(): void;
  /**
   * Arms a lost reply: the next command sent whose bytes contain `marker` reaches the target and
   * runs, and the moment the target answers it the connection is reset, its reply dropped, as a
   * network drop or a failover can. ioredis then reconnects and sends the command again
   * (autoResendUnfulfilledCommands), so a script runs twice, the second time over its own writes.
   */
  cutAfterReply(marker: string): void;
  /** The markers whose reply was dropped so far, in order. */
  readonly repliesCut: readonly string[];
  /** Stops listening and drops every connection; safe twice. */
  close(): Promise<void>;
}

/**
 * A plain TCP proxy on a free port of 127.0.0.1 in front of `targetPort`: bytes pass both ways
 * untouched until cut(), after which every connection is reset, as a client meets a dependency that
 * went away (the S3 SDK sees ECONNRESET and retries, then gives up; ioredis reconnects in a loop).
 * The target itself keeps running: a Redis behind it keeps its data and lets the locks it holds
 * lapse on time, as one across a real partition does.
 */
export async function startOutageProxy(targetPort: number): Promise<OutageProxy> {
  const open = new Set<Socket>();
  let out = false;
  const repliesCut: string[] = [];
  let armed: string | undefined;
  let cutting: Socket | undefined;
  const server: Server = createServer((client) => {
    if (out) return void client.resetAndDestroy();
    const upstream = connect({ host: '127.0.0.1', port: targetPort });
    open.add(client).add(upstream);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      open.delete(client);
      open.delete(upstream);
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    client.on('data', (chunk: Buffer) => {
      if (armed !== undefined && chunk.toString('latin1').includes(armed)) {
        repliesCut.push(armed);
        armed = undefined;
        cutting = upstream;
      }
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      if (cutting !== upstream) return void client.write(chunk);
      cutting = undefined;
      client.resetAndDestroy();
      upstream.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  let closed: Promise<void> | undefined;
  return {
    port: (server.address() as AddressInfo).port,
    cut() {
      out = true;
      for (const socket of open) socket.resetAndDestroy();
      open.clear();
    },
    restore() {
      out = false;
    },
    repliesCut,
    cutAfterReply(marker) {
      armed = marker;
    },
    close() {
      closed ??= new Promise<void>((resolve) => {
        out = true;
        for (const socket of open) socket.destroy();
        server.close(() => resolve());
      });
      return closed;
    },
  };
}
