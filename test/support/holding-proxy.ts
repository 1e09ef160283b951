import { type IncomingMessage, type ServerResponse, createServer, request } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/** A request the proxy kept from its target: read in full, never answered. */
export interface HeldRequest {
  readonly method: string;
  /** The URL path, percent-decoded, without the query (path-style S3: `/bucket/key`). */
  readonly path: string;
  readonly body: Buffer;
  /** False once the client gave up on it (a socket timeout) or the proxy dropped it. */
  readonly open: boolean;
}

export interface HoldingProxy {
  /** `http://127.0.0.1:<port>`: what a client uses instead of the target's URL. */
  readonly url: string;
  /** Every request held so far, in the order it was read in full. */
  readonly held: readonly HeldRequest[];
  /** Stops listening and drops every connection, held requests included (unanswered); safe twice. */
  close(): Promise<void>;
}

/**
 * A plain HTTP proxy on a free port of 127.0.0.1 in front of `target` (an http:// origin): each
 * request is forwarded as it came (method, path, headers, body) and the answer passed back, except
 * the requests `hold` picks, which are read and then kept: the target never sees them and the
 * client gets no answer until it gives up, or the proxy closes. Tests use it to stop a service at a
 * chosen write (an S3 PUT of one key) and look at what was stored before it.
 */
export async function startHoldingProxy(target: string, hold: (request: { method: string; path: string }) => boolean): Promise<HoldingProxy> {
  const origin = new URL(target);
  const held: { request: HeldRequest; socket: Socket }[] = [];
  const forward = (incoming: IncomingMessage, answer: ServerResponse) => {
    const upstream = request(
      { host: origin.hostname, port: origin.port, method: incoming.method, path: incoming.url, headers: incoming.headers },
      (response) => {
        answer.writeHead(response.statusCode ?? 502, response.headers);
        response.pipe(answer);
      },
    );
    // Either side failing ends the exchange: the client sees its connection drop, as from a real network.
    upstream.on('error', () => answer.destroy());
    incoming.on('error', () => upstream.destroy());
    incoming.pipe(upstream);
  };
  const server = createServer((incoming, answer) => {
    const method = incoming.method ?? 'GET';
    const path = decodeURIComponent(new URL(incoming.url ?? '/', 'http://proxy').pathname);
    if (!hold({ method, path })) {
      forward(incoming, answer);
      return;
    }
    const chunks: Buffer[] = [];
    incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
    incoming.on('error', () => undefined);
    incoming.on('end', () => {
      const socket = incoming.socket;
      const entry = { request: { method, path, body: Buffer.concat(chunks), open: !socket.destroyed }, socket };
      socket.once('close', () => (entry.request.open = false));
      held.push(entry);
    });
  });
  server.on('clientError', (_error, socket) => socket.destroy());
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  let closed: Promise<void> | undefined;
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    get held() {
      return held.map((entry) => entry.request);
    },
    close() {
      closed ??= new Promise<void>((resolve) => {
        for (const entry of held) entry.socket.destroy();
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closed;
    },
  };
}
