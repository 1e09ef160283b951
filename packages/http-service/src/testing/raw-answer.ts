import type { Socket } from 'node:net';

/** The first HTTP answer read off a raw socket: its status, head and body (by its Content-Length). */
export interface RawAnswer {
  readonly status: number;
  readonly head: string;
  readonly body: string;
}

/**
 * Collects what the server writes on `socket` (a client's raw connection): `text()` is all of it
 * so far, and `answered` resolves once the first answer has arrived whole, whether or not the
 * connection is still open.
 */
export function collectRawAnswer(socket: Socket): { readonly answered: Promise<RawAnswer>; text(): string } {
  let text = '';
  let onAnswer = (_answer: RawAnswer) => {};
  const answered = new Promise<RawAnswer>((resolve) => (onAnswer = resolve));
  socket.setEncoding('latin1');
  socket.on('data', (chunk: string) => {
    text += chunk;
    const headEnd = text.indexOf('\r\n\r\n');
    if (headEnd < 0) return;
    const head = text.slice(0, headEnd);
    const body = text.slice(headEnd + 4);
    const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0);
    if (body.length >= length) onAnswer({ status: Number(head.split(' ')[1]), head, body: body.slice(0, length) });
  });
  return { answered, text: () => text };
}
