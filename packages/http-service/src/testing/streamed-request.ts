import { connect } from 'node:net';
import { collectRawAnswer } from './raw-answer.ts';

export interface StreamedRequest {
  /** Resolves with the server's first answer once it has arrived whole (by its Content-Length), the connection still open or not. */
  readonly answered: Promise<{ readonly status: number; readonly head: string; readonly body: string }>;
  /** Resolves when the connection closes: all the server answered, how many body bytes were sent, and after how many ms. */
  readonly closed: Promise<{ readonly answer: string; readonly sentBytes: number; readonly afterMs: number }>;
  /** Body bytes sent so far. */
  sentBytes(): number;
  /** Stops sending and drops the connection (the end of a test, whatever happened). */
  stop(): void;
}

export interface StreamOptions {
  readonly method?: string;
  readonly headers?: Readonly<Record<string, string>>;
  /** A declared body length; without one the body is chunked and endless. */
  readonly declaredBytes?: number;
}

/**
 * `method path` whose headers go out at once and whose body then follows as fast as the server
 * takes it, 64 KiB at a time: chunked and endless, or up to `declaredBytes` when the request
 * declares a length. The client never stops on its own: only the server closing the connection,
 * or stop(), ends it.
 */
export function streamRequest(port: number, path: string, { method = 'POST', headers = {}, declaredBytes }: StreamOptions = {}): StreamedRequest {
  const started = Date.now();
  const socket = connect(port, '127.0.0.1');
  let sent = 0;
  let stopped = false;
  const { answered, text } = collectRawAnswer(socket);
  // The server may reset the connection it closes while the body still comes: the close is what counts.
  socket.on('error', () => {});
  const closed = new Promise<{ answer: string; sentBytes: number; afterMs: number }>((resolve) =>
    socket.once('close', () => {
      stopped = true;
      resolve({ answer: text(), sentBytes: sent, afterMs: Date.now() - started });
    }),
  );
  const framing = declaredBytes === undefined ? { 'transfer-encoding': 'chunked' } : { 'content-length': String(declaredBytes) };
  const head = Object.entries({ host: 'localhost', ...framing, ...headers })
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join('');
  socket.write(`${method} ${path} HTTP/1.1\r\n${head}\r\n`);
  const block = Buffer.alloc(64 * 1024, 'x');
  const chunk = declaredBytes === undefined ? Buffer.concat([Buffer.from(`${block.length.toString(16)}\r\n`), block, Buffer.from('\r\n')]) : block;
  const pump = () => {
    while (!stopped && !socket.destroyed && (declaredBytes === undefined || sent < declaredBytes)) {
      const piece = declaredBytes === undefined ? chunk : chunk.subarray(0, Math.min(chunk.length, declaredBytes - sent));
      sent += declaredBytes === undefined ? block.length : piece.length;
      if (!socket.write(piece)) {
        socket.once('drain', pump);
        return;
      }
    }
  };
  socket.once('connect', pump);
  return {
    answered,
    closed,
    sentBytes: () => sent,
    stop: () => {
      stopped = true;
      socket.destroy();
    },
  };
}
