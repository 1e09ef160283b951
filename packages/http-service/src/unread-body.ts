import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyRequest } from 'fastify';

/**
 * The most of a body that no route read a kept-alive connection reads and drops after the answer:
 * a small JSON body whose packets arrive just after an early answer (a 401, a 404) costs less to
 * read than a new connection costs the client.
 */
const unreadBodyDrainBytes = 64 * 1024;

/**
 * Whether an answer must close its connection because the request's body has not arrived whole:
 * to keep the connection, Node reads and throws away the rest of the body, however large (a chunked
 * body need never end: a client streamed 2.6 GB in 3 s into a 404) and however slowly it comes, and
 * a closing process waits for it. So an answer sent before the body was read (a 404, a 401 or 403
 * on onRequest, a 429 before a multipart upload is read, /healthz with a body) says `Connection:
 * close`, and no more of it is read. A body that arrived whole keeps the connection, as does the
 * rest of one of declared length up to unreadBodyDrainBytes, or up to the body limit when the route
 * itself chose to read and drop it (ingest does so for a refused multipart upload of a signed-in
 * client): both are bounded.
 */
function unreadBodyCloses(request: FastifyRequest): boolean {
  const { raw } = request;
  // `!== false`: light-my-request's inject() has no `complete`, and its bodyless GETs are whole.
  if (raw.complete !== false) return false;
  const length = raw.headers['content-length'];
  if (length === undefined || raw.headers['transfer-encoding'] !== undefined) return true;
  const drainedByRoute = raw.readableFlowing === true;
  return !(Number(length) <= (drainedByRoute ? request.routeOptions.bodyLimit : unreadBodyDrainBytes));
}

/**
 * For an answer (in onSend): whether it must close its connection because the request's body has
 * not arrived whole (unreadBodyCloses); if so no more of the body is read (stopReading) and the
 * connection closes a moment after the answer is out (lingerBeforeClosing). HTTP/1 only.
 */
export function closeOnUnreadBody(request: FastifyRequest): boolean {
  if (!unreadBodyCloses(request)) return false;
  stopReading(request.raw);
  lingerBeforeClosing(request.raw.socket);
  return true;
}

/**
 * Reads no more of a request's body: paused, its buffer fills and Node stops reading the socket.
 * A read() (of what is buffered: its high-water mark at most) marks the body as taken, or Node
 * would resume it once the answer is out and read the rest to drop it, at whatever speed the
 * client sends, until the connection closes (read(0) does not, once the buffer is full).
 */
function stopReading(raw: IncomingMessage): void {
  raw.unpipe();
  raw.pause();
  raw.read();
}

/** How long a connection closed on an unread body stays open once the answer is out, reading nothing. */
const unreadBodyLingerMs = 1_000;

/**
 * Node ends a `Connection: close` answer with `socket.destroySoon()`: the answer, then destroy()
 * the moment it is written. With the client's body still arriving, that resets the connection,
 * and a client still writing (undici's fetch, curl) fails with EPIPE on its next write and never
 * reads the answer it was sent (seen for a 404 and a 200 to a streamed body). Here the socket is
 * ended (the answer, then FIN) and destroyed unreadBodyLingerMs later: as nothing more is read
 * (stopReading), TCP flow control holds the client's writes meanwhile, and it reads the answer.
 */
function lingerBeforeClosing(socket: Socket | null): void {
  if (!socket) return;
  socket.destroySoon = function destroySoon(this: Socket) {
    if (this.writable) this.end();
    const timer = setTimeout(() => this.destroy(), unreadBodyLingerMs);
    this.once('close', () => clearTimeout(timer));
  };
}
