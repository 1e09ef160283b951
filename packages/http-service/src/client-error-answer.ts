import { maxHeaderSize, type ServerResponse, STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import { ApiError, apiErrorBody } from './api-error.ts';

/** What Node tells of a request its HTTP parser refused (llhttp's code and reason), or of one cut at requestTimeout. */
interface ClientError extends Error {
  readonly code?: string;
  /** llhttp's reason, a fixed phrase such as "Invalid method encountered": never the client's bytes. */
  readonly reason?: string;
}

/** Every status clientErrorAnswer answers with: a bounded set, for metrics exported at 0. */
export const clientErrorStatuses = [400, 408, 431] as const;

/** The answer to a request refused before it reached Fastify. */
export function clientErrorAnswer(error: ClientError): ApiError {
  switch (error.code) {
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return new ApiError(408, 'REQUEST_TIMEOUT', 'the request did not arrive whole in time; send it again');
    case 'HPE_HEADER_OVERFLOW':
      return new ApiError(431, 'HEADERS_TOO_LARGE', `the request line and headers exceed ${maxHeaderSize} bytes; send fewer or shorter headers`);
    default: {
      const reason = error.reason ?? error.message.replace(/^Parse Error: /, '');
      return new ApiError(400, 'REQUEST_MALFORMED', `the request is not valid HTTP/1.1: ${reason.slice(0, 200)}`);
    }
  }
}

/** Told the status of each answer clientErrorHandler wrote (400, 408 or 431): no hook runs for these. */
export type ClientErrorAnswered = (status: number) => void;

/**
 * Fastify's `clientErrorHandler` (the server's 'clientError' event): a request Node's HTTP parser
 * refused (headers over the limit, a garbage request line, a bad Content-Length, Content-Length
 * and Transfer-Encoding together) or that timed out is answered in the services' error shape
 * (clientErrorAnswer: 431 `HEADERS_TOO_LARGE`, 400 `REQUEST_MALFORMED` with the parser's reason,
 * 408 `REQUEST_TIMEOUT`), where Fastify's own said `{"error":"Bad Request","message":"Client
 * Error","statusCode":400}`, with `Connection: close`, and the connection closed: the parser cannot
 * find the next request in what follows. No hook runs for these, so `onAnswered` is told each status
 * answered (a service counts them: its onResponse hook never sees them).
 */
export function createClientErrorHandler(onAnswered?: ClientErrorAnswered): (error: ClientError, socket: Socket) => void {
  return (error, socket) => answerClientError(error, socket, onAnswered);
}

function answerClientError(error: ClientError, socket: Socket, onAnswered: ClientErrorAnswered | undefined): void {
  // A reset connection, or one already gone, has nobody to answer.
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  // Node's own rule: an answer that began to go out (headers sent) must not be followed by another.
  // `_httpMessage` is Node's, undocumented: the response the socket is serving, if any.
  const serving = (socket as Socket & { _httpMessage?: ServerResponse | null })._httpMessage;
  if (socket.writable && !serving?.headersSent) {
    const answer = clientErrorAnswer(error);
    const body = JSON.stringify(apiErrorBody(answer));
    socket.write(
      `HTTP/1.1 ${answer.status} ${STATUS_CODES[answer.status] ?? ''}\r\n` +
        `content-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\n` +
        `x-content-type-options: nosniff\r\nconnection: close\r\n\r\n${body}`,
    );
    onAnswered?.(answer.status);
  }
  socket.destroy();
}
