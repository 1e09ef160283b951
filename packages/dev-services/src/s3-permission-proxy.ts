import { createServer, request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';

/** The IAM actions the proxy can take away, as AWS enforces them. */
export type S3Permission = 's3:ListBucket' | 's3:GetObject' | 's3:PutObject';

export interface S3PermissionProxy {
  /** 'http://127.0.0.1:<port>': use it as the endpoint instead of the server's own (path style). */
  readonly endpoint: string;
  /** Closes the proxy and its connections; safe twice. */
  stop(): Promise<void>;
}

const accessDenied = '<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>';

/**
 * An HTTP proxy in front of an S3-compatible server (s3rver, path-style requests) that answers
 * as AWS does for credentials without the `without` permissions: 403 AccessDenied (bodiless for
 * a HEAD) for the requests those permissions allow. Without s3:ListBucket that includes every
 * missing key (AWS answers 403, not 404, so a caller cannot learn which keys exist), HeadBucket
 * and listings; a missing bucket (NoSuchBucket) still comes through. s3rver itself has no
 * policies, so this is how tests meet a role that lacks one.
 */
export async function startS3PermissionProxy(target: string, without: readonly S3Permission[]): Promise<S3PermissionProxy> {
  const upstream = new URL(target);
  const denied = new Set(without);
  const server = createServer((request, response) => {
    const method = request.method ?? 'GET';
    const { pathname } = new URL(request.url ?? '/', 'http://proxy');
    // Path style: /bucket (or /bucket/, as HeadBucket asks) is the bucket, /bucket/key… an object.
    const onObject = pathname.replace(/^\/+/, '').split('/').slice(1).join('/') !== '';
    const deny = () => {
      request.resume();
      const body = method === 'HEAD' ? '' : accessDenied;
      response.writeHead(403, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(body) }).end(body);
    };
    const reads = method === 'GET' || method === 'HEAD';
    if (!onObject && reads && denied.has('s3:ListBucket')) return deny();
    if (onObject && reads && denied.has('s3:GetObject')) return deny();
    if (onObject && (method === 'PUT' || method === 'POST') && denied.has('s3:PutObject')) return deny();
    const forwarded = httpRequest(
      { host: upstream.hostname, port: upstream.port, method, path: request.url, headers: request.headers },
      (answer) => {
        if (answer.statusCode !== 404 || !onObject || !denied.has('s3:ListBucket')) {
          response.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(response);
          return;
        }
        const chunks: Buffer[] = [];
        answer.on('data', (chunk: Buffer) => chunks.push(chunk));
        answer.on('end', () => {
          const body = Buffer.concat(chunks);
          if (body.includes('NoSuchBucket')) response.writeHead(404, answer.headers).end(body);
          else deny();
        });
      },
    );
    forwarded.on('error', () => {
      if (!response.headersSent) response.writeHead(502);
      response.end();
    });
    request.pipe(forwarded);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  let stopped: Promise<void> | undefined;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    stop() {
      stopped ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return stopped;
    },
  };
}
