import { connect } from 'node:net';
import { collectRawAnswer } from './raw-answer.ts';

export interface TrickledRequest {
  /** Resolves with the server's answer as soon as it has arrived whole (by its Content-Length), the connection still open or not. */
  readonly answered: Promise<{ readonly status: number; readonly body: string }>;
  /** Resolves when the server closes the connection: all it answered (perhaps nothing), and after how many ms. */
  readonly closed: Promise<{ readonly afterMs: number; readonly answer: string }>;
  /** Stops sending and drops the connection (the end of a test, whatever happened). */
  stop(): void;
}

export interface TrickleOptions {
  readonly headers?: Readonly<Record<string, string>>;
  /** The body length the request declares: more than it will ever send. */
  readonly declaredBytes?: number;
  /** One body byte every this many ms. */
  readonly everyMs?: number;
}

/**
 * A POST to `path` whose headers go out at once and whose body (declared as `declaredBytes` of
 * JSON) then follows one byte every `everyMs`: a client that never finishes its request, and whose
 * connection is never idle.
 */
export function trickleRequest(port: number, path: string, { headers = {}, declaredBytes = 1000, everyMs = 50 }: TrickleOptions = {}): TrickledRequest {
  const started = Date.now();
  const socket = connect(port, '127.0.0.1');
  const { answered, text } = collectRawAnswer(socket);
  // The server may reset the connection once it has answered: the close is what counts.
  socket.on('error', () => {});
  let trickle: NodeJS.Timeout | undefined;
  const closed = new Promise<{ afterMs: number; answer: string }>((resolve) =>
    socket.once('close', () => {
      clearInterval(trickle);
      resolve({ afterMs: Date.now() - started, answer: text() });
    }),
  );
  const head = Object.entries({ host: 'localhost', 'content-type': 'application/json', 'content-length': String(declaredBytes), ...headers })
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join('');
  socket.write(`POST ${path} HTTP/1.1\r\n${head}\r\n{"a":"`);
  trickle = setInterval(() => {
    if (!socket.destroyed) socket.write('x');
  }, everyMs);
  return {
    answered,
    closed,
    stop: () => {
      clearInterval(trickle);
      socket.destroy();
    },
  };
}
