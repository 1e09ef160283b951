import { type AddressInfo, type Socket, connect, createServer } from 'node:net';

export interface ReplyCutter {
  /** The proxy's port on 127.0.0.1: what the client under test connects to instead of Redis's. */
  readonly port: number;
  /** The markers whose command was cut so far, in order. */
  readonly cuts: readonly string[];
  /**
   * Arms the cut: the next command sent whose bytes contain `marker` reaches Redis and runs, and
   * the moment Redis answers it the connection is reset, its reply dropped.
   */
  cutAfter(marker: string): void;
  /** Stops listening and drops every connection; safe twice. */
  close(): Promise<void>;
}

/**
 * A TCP proxy in front of Redis that drops a connection between a command and its reply, as a
 * network drop or a failover can: the command ran, and the client never learns its answer.
 * ioredis then reconnects and sends the command again (autoResendUnfulfilledCommands), so a
 * script runs twice, the second time over its own writes.
 */
export async function startReplyCutter(redisPort: number): Promise<ReplyCutter> {
  const open = new Set<Socket>();
  const cuts: string[] = [];
  let armed: string | undefined;
  let cutting: Socket | undefined;
  const server = createServer((client) => {
    const upstream = connect({ host: '127.0.0.1', port: redisPort });
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
        cuts.push(armed);
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
    cuts,
    cutAfter(marker) {
      armed = marker;
    },
    close() {
      closed ??= new Promise<void>((resolve) => {
        for (const socket of open) socket.destroy();
        server.close(() => resolve());
      });
      return closed;
    },
  };
}
