import { connect } from 'node:net';

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
  let answer = '';
  let onAnswer = (_whole: { status: number; body: string }) => {};
  const answered = new Promise<{ status: number; body: string }>((resolve) => (onAnswer = resolve));
  socket.setEncoding('latin1');
  socket.on('data', (chunk: string) => {
    answer += chunk;
    const headEnd = answer.indexOf('\r\n\r\n');
    if (headEnd < 0) return;
    const head = answer.slice(0, headEnd);
    const body = answer.slice(headEnd + 4);
    const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0);
    if (body.length >= length) onAnswer({ status: Number(head.split(' ')[1]), body: body.slice(0, length) });
  });
  // The server may reset the connection once it has answered: the close is what counts.
  socket.on('error', () => {});
  let trickle: NodeJS.Timeout | undefined;
  const closed = new Promise<{ afterMs: number; answer: string }>((resolve) =>
    socket.once('close', () => {
      clearInterval(trickle);
      resolve({ afterMs: Date.now() - started, answer });
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
