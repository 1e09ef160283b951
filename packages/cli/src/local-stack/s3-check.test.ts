import assert from 'node:assert/strict';
import { lookup } from 'node:dns/promises';
import { createServer as createHttpServer, type IncomingMessage, request as httpRequest, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { type AddressInfo, createServer, type Socket } from 'node:net';
import { after, before, test } from 'node:test';
import { freePort, type S3Permission, type S3Server, startS3PermissionProxy, startS3Server } from '@gradcam/dev-services';
import { probeKey } from '@gradcam/storage';
import { LocalStackError } from './local-stack-error.ts';
import { type S3StorageConfig, checkS3Storage } from './s3-check.ts';

let s3: S3Server;
before(async () => {
  s3 = await startS3Server({ buckets: ['stack-bucket'] });
});
after(async () => {
  await s3.stop();
});

const storage = (overrides: Partial<S3StorageConfig> = {}): S3StorageConfig => ({
  kind: 's3',
  endpoint: s3.endpoint,
  region: s3.region,
  bucket: 'stack-bucket',
  accessKeyId: s3.accessKeyId,
  secretAccessKey: s3.secretAccessKey,
  forcePathStyle: true,
  prefix: 'team-a/captures',
  ...overrides,
});

/** The one line checkS3Storage refused with, and how long it took. */
async function refusal(config: S3StorageConfig, timeoutMs?: number): Promise<{ line: string; ms: number }> {
  const started = Date.now();
  try {
    await checkS3Storage(config, timeoutMs === undefined ? {} : { timeoutMs });
  } catch (error) {
    assert.ok(error instanceof LocalStackError, String(error));
    assert.equal(error.code, 'STORAGE_UNUSABLE');
    assert.doesNotMatch(error.message, /\n/, 'one line');
    return { line: error.message, ms: Date.now() - started };
  }
  assert.fail('the check passed');
}

async function withProxy(without: readonly S3Permission[], body: (endpoint: string) => Promise<void>): Promise<void> {
  const proxy = await startS3PermissionProxy(s3.endpoint, without);
  try {
    await body(proxy.endpoint);
  } finally {
    await proxy.stop();
  }
}

test('a usable bucket passes, and the probe the services will HEAD is written under the prefix', async () => {
  const warnings: string[] = [];
  await checkS3Storage(storage(), { onWarning: (line) => warnings.push(line) });
  assert.deepEqual(warnings, []);
  assert.equal((await fetch(`${s3.endpoint}/stack-bucket/${probeKey('team-a/captures')}`, { method: 'HEAD' })).status, 200);
});

test('S3_ENDPOINT that does not answer: one line naming S3_ENDPOINT, at once', async () => {
  const port = await freePort();
  const { line, ms } = await refusal(storage({ endpoint: `http://127.0.0.1:${port}` }));
  assert.match(line, new RegExp(`^S3_ENDPOINT: http://127\\.0\\.0\\.1:${port} does not answer \\(connect ECONNREFUSED[^)]*\\)+; start that server, or point S3_ENDPOINT at one$`));
  assert.ok(ms < 5_000, `${ms} ms`);
});

test('S3_ENDPOINT that accepts connections and never answers: one line within the timeout', async () => {
  const sockets: Socket[] = [];
  const silent = createServer((socket) => void sockets.push(socket)).listen(0, '127.0.0.1');
  await new Promise((resolve) => silent.once('listening', resolve));
  try {
    const { port } = silent.address() as { port: number };
    const { line, ms } = await refusal(storage({ endpoint: `http://127.0.0.1:${port}` }), 1_500);
    assert.equal(line, `S3_ENDPOINT: http://127.0.0.1:${port} did not answer within 1.5 s; check that it is up and reachable from here`);
    assert.ok(ms < 3_000, `${ms} ms`);
  } finally {
    for (const socket of sockets) socket.destroy();
    silent.close();
  }
});

test('S3_ENDPOINT that accepts connections and answers nothing, within the check\'s deadline: one line saying it did not answer in time, not "start that server"', async () => {
  const sockets: Socket[] = [];
  const silent = createServer((socket) => void sockets.push(socket)).listen(0, '127.0.0.1');
  await new Promise((resolve) => silent.once('listening', resolve));
  try {
    const { port } = silent.address() as { port: number };
    // The check's requests give up after 5 s of silence, before its 8 s deadline here (10 s in npm start).
    const { line, ms } = await refusal(storage({ endpoint: `http://127.0.0.1:${port}` }), 8_000);
    assert.match(
      line,
      new RegExp(`^S3_ENDPOINT: http://127\\.0\\.0\\.1:${port} did not answer in time \\(the request socket timed out after 5000 ms of inactivity [^;]*\\); check that S3_ENDPOINT is the S3 server's API address and port, and that the server is reachable from here and not stuck$`),
    );
    assert.ok(ms < 7_000, `${ms} ms`);
  } finally {
    for (const socket of sockets) socket.destroy();
    silent.close();
  }
});

test('S3_BUCKET that does not exist: one line saying npm start does not create it, with s3:ListBucket or without', async () => {
  const expected = (endpoint: string) => `S3_BUCKET: bucket "no-such-bucket" does not exist at ${endpoint}; create it first (npm start does not create buckets), or set S3_BUCKET to one that exists`;
  assert.equal((await refusal(storage({ bucket: 'no-such-bucket' }))).line, expected(s3.endpoint));
  await withProxy(['s3:ListBucket'], async (endpoint) => {
    assert.equal((await refusal(storage({ endpoint, bucket: 'no-such-bucket' }))).line, expected(endpoint));
  });
});

test('an access key the server does not know: one line naming S3_ACCESS_KEY_ID', async () => {
  const { line } = await refusal(storage({ accessKeyId: 'NOT-A-KEY' }));
  assert.equal(line, `S3_ACCESS_KEY_ID: ${s3.endpoint} does not know this access key (InvalidAccessKeyId); check S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY`);
});

test('credentials the bucket policy refuses: one line naming the keys and the policy, and the permissions needed', async () => {
  await withProxy(['s3:ListBucket', 's3:PutObject'], async (endpoint) => {
    const { line } = await refusal(storage({ endpoint, prefix: 'read-only' }));
    assert.match(line, /^S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY or the bucket policy: http:\/\/127\.0\.0\.1:\d+ refused access to bucket "stack-bucket" \(Access Denied/);
    assert.match(line, /the services need s3:GetObject and s3:PutObject on s3:\/\/stack-bucket\/read-only\/\* \(and s3:ListBucket on the bucket\)$/);
  });
});

test('credentials that may read but not write fail too where an earlier run left the probe: the worker writes it every time', async () => {
  // A run with full credentials leaves the probe under the prefix; the services' /readyz HEAD it.
  await checkS3Storage(storage({ prefix: 'team-a/earlier' }));
  for (const without of [['s3:PutObject'], ['s3:PutObject', 's3:ListBucket']] as const) {
    await withProxy(without, async (endpoint) => {
      const { line } = await refusal(storage({ endpoint, prefix: 'team-a/earlier' }));
      assert.match(line, /^S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY or the bucket policy: http:\/\/127\.0\.0\.1:\d+ refused access to bucket "stack-bucket" \(Access Denied/, `${without.join(', ')}: ${line}`);
      assert.match(line, /the services need s3:GetObject and s3:PutObject on s3:\/\/stack-bucket\/team-a\/earlier\/\*/);
    });
  }
});

test('credentials without s3:ListBucket pass, with a warning naming what fails without it', async () => {
  await withProxy(['s3:ListBucket'], async (endpoint) => {
    const warnings: string[] = [];
    await checkS3Storage(storage({ endpoint }), { onWarning: (line) => warnings.push(line) });
    assert.equal(warnings.length, 1);
    assert.match(warnings[0] as string, /^S3_ACCESS_KEY_ID: these credentials may not s3:ListBucket on bucket "stack-bucket", so .* answers 403, not 404, for an object that is not there: .*; grant s3:ListBucket$/);
  });
});

/** A small HTTP(S) server standing in for an odd endpoint; `url` is its origin. */
async function standIn(handler: (request: IncomingMessage, response: ServerResponse) => void, tls = false): Promise<{ url: string; stop(): Promise<void> }> {
  const server: Server = tls ? createHttpsServer({ key: testKey, cert: testCert }, handler) : createHttpServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `${tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

test('a web server that is not S3, answering 200 or 404 to everything: one line saying S3_ENDPOINT does not answer as an S3 API', async () => {
  for (const status of [200, 404]) {
    const requests: string[] = [];
    const server = await standIn((request, response) => {
      requests.push(`${request.method} ${request.url}`);
      request.resume();
      response.writeHead(status, { 'content-type': 'text/html' }).end(request.method === 'HEAD' ? undefined : '<html>hello</html>');
    });
    try {
      const { line } = await refusal(storage({ endpoint: server.url }));
      assert.match(line, new RegExp(`^S3_ENDPOINT: ${server.url.replace(/\./g, '\\.')} does not answer as an S3 API \\(.+\\); point S3_ENDPOINT at the S3 server \\(its API port\\), not another web server$`), `${status}: ${line}`);
      if (status === 200) assert.match(line, /read back as 18 bytes \("<html>hello<\/html>"\)/);
      else assert.match(line, /a PUT of team-a\/captures\/gradcam~readiness-probe\.json was answered 404 without an S3 error code/);
    } finally {
      await server.stop();
    }
  }
});

test('a proxy or web server that refuses everything (403 or 401, its own page or none): S3_ENDPOINT does not answer as an S3 API, not the credentials', async () => {
  for (const [status, page] of [[403, '<html><body>Forbidden by policy</body></html>'], [403, ''], [401, '<html>401 Authorization Required</html>']] as const) {
    const server = await standIn((request, response) => {
      request.resume();
      response.writeHead(status, { 'content-type': 'text/html' }).end(request.method === 'HEAD' ? undefined : page);
    });
    try {
      const { line } = await refusal(storage({ endpoint: server.url }));
      assert.match(
        line,
        new RegExp(`^S3_ENDPOINT: ${server.url.replace(/\./g, '\\.')} does not answer as an S3 API \\(a PUT of team-a/captures/gradcam~readiness-probe\\.json was answered ${status} without an S3 error code .+\\); point S3_ENDPOINT at the S3 server \\(its API port\\), not another web server$`),
        `${status} ${JSON.stringify(page)}: ${line}`,
      );
    } finally {
      await server.stop();
    }
  }
});

test('TLS that fails on an https S3_ENDPOINT (an untrusted certificate, or a plain-HTTP server): one line naming S3_ENDPOINT and NODE_EXTRA_CA_CERTS', async () => {
  const selfSigned = await standIn((_request, response) => void response.writeHead(200).end(), true);
  try {
    const { line } = await refusal(storage({ endpoint: selfSigned.url }));
    // DEPTH_ZERO_SELF_SIGNED_CERT (CERT_NOT_YET_VALID on a clock behind the certificate's).
    assert.match(line, new RegExp(`^S3_ENDPOINT: TLS to ${selfSigned.url.replace(/\./g, '\\.')} failed \\(.*(SELF_SIGNED|CERT_NOT_YET_VALID).*\\); trust its CA with NODE_EXTRA_CA_CERTS, or use http:// if the server speaks plain HTTP$`));
  } finally {
    await selfSigned.stop();
  }
  // s3rver speaks plain HTTP: OpenSSL's "wrong version number" message spans two lines.
  const endpoint = s3.endpoint.replace(/^http:/, 'https:');
  const { line } = await refusal(storage({ endpoint }));
  assert.match(line, new RegExp(`^S3_ENDPOINT: TLS to ${endpoint.replace(/\./g, '\\.')} failed \\(.*EPROTO.*\\); trust its CA with NODE_EXTRA_CA_CERTS, or use http:// if the server speaks plain HTTP$`));
});

test('a bucket in another region than S3_REGION (AWS: a bodiless 400 naming the bucket\'s region): one line naming S3_REGION and that region', async () => {
  // AWS's answer to a HEAD signed for the wrong region, reached as an AWS user configures it (no
  // S3_ENDPOINT; AWS_ENDPOINT_URL_S3 sends the SDK to this stand-in instead of AWS).
  let bucketRegion = 'eu-west-1';
  const aws = await standIn((request, response) => {
    request.resume();
    response.writeHead(400, { 'x-amz-bucket-region': bucketRegion, 'content-type': 'application/xml' }).end();
  });
  const saved = process.env.AWS_ENDPOINT_URL_S3;
  process.env.AWS_ENDPOINT_URL_S3 = aws.url;
  try {
    const aws400 = storage({ endpoint: undefined, region: 'us-east-1' });
    const { line } = await refusal(aws400);
    assert.equal(line, 'S3_REGION: bucket "stack-bucket" is not in region us-east-1 (400 bad request (STORAGE_UNAVAILABLE; the bucket is in region eu-west-1)); set S3_REGION to the bucket\'s region');
    // The same 400 from the bucket's own region is something else: no setting named for it.
    bucketRegion = 'us-east-1';
    assert.equal((await refusal(aws400)).line, 'AWS S3 (region us-east-1) failed the check of bucket "stack-bucket" (400 bad request (STORAGE_UNAVAILABLE; the bucket is in region us-east-1))');
  } finally {
    if (saved === undefined) delete process.env.AWS_ENDPOINT_URL_S3;
    else process.env.AWS_ENDPOINT_URL_S3 = saved;
    await aws.stop();
  }
});

test('an S3_ENDPOINT that redirects (http:// to https://, no region named): one line naming S3_ENDPOINT and where it leads, not S3_REGION', async () => {
  for (const status of [301, 302, 307, 308]) {
    const redirecting = await standIn((request, response) => {
      request.resume();
      response.writeHead(status, { location: `https://s3.example.internal${request.url ?? '/'}`, 'content-type': 'text/html' }).end(request.method === 'HEAD' ? undefined : '<html>moved</html>');
    });
    try {
      const { line } = await refusal(storage({ endpoint: redirecting.url }));
      assert.match(
        line,
        new RegExp(`^S3_ENDPOINT: ${redirecting.url.replace(/\./g, '\\.')} redirects the check's requests \\(${status} [a-z() ]+ \\(STORAGE_UNAVAILABLE; to https://s3\\.example\\.internal\\)\\); S3 clients follow no redirects: set S3_ENDPOINT to the address they lead to$`),
        `${status}: ${line}`,
      );
    } finally {
      await redirecting.stop();
    }
  }
});

test('S3_FORCE_PATH_STYLE=false against a custom endpoint whose bucket subdomain does not resolve: one line naming S3_FORCE_PATH_STYLE', async (t) => {
  const endpoint = s3.endpoint.replace('127.0.0.1', 'localhost');
  const subdomain = await lookup('stack-bucket.localhost').then(
    () => true,
    () => false,
  );
  if (subdomain) return t.skip('stack-bucket.localhost resolves on this machine');
  const { line } = await refusal(storage({ endpoint, forcePathStyle: false }));
  assert.equal(
    line,
    `S3_FORCE_PATH_STYLE: with path style off the bucket is asked for as a subdomain of ${endpoint}, which does not resolve (getaddrinfo ENOTFOUND stack-bucket.localhost (Error ENOTFOUND)); set S3_FORCE_PATH_STYLE=true (MinIO, s3rver and most S3-compatible servers want it)`,
  );
  await checkS3Storage(storage({ endpoint, forcePathStyle: true }));
});

test('an S3_ENDPOINT that answers, but slowly, past the deadline: one line saying it answers, not that it does not', async () => {
  // s3rver behind a proxy that holds every request 700 ms: the check's 4 requests (PUT, HEAD,
  // GET, HEAD) each answer, and take 2.8 s, past the check's 2 s.
  const held = new Set<NodeJS.Timeout>();
  const target = new URL(s3.endpoint);
  const slow = await standIn((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const timer = setTimeout(() => {
        held.delete(timer);
        const forwarded = httpRequest({ host: target.hostname, port: target.port, method: request.method, path: request.url, headers: request.headers }, (answer) => {
          response.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(response);
        });
        forwarded.on('error', () => response.destroy());
        forwarded.end(Buffer.concat(chunks));
      }, 700);
      held.add(timer);
    });
  });
  try {
    const { line, ms } = await refusal(storage({ endpoint: slow.url, prefix: 'team-a/slow' }), 2_000);
    assert.match(
      line,
      new RegExp(`^S3_ENDPOINT: ${slow.url.replace(/\./g, '\\.')} answers, but too slowly: the check did not finish within 2 s \\(its first (step answered after|\\d+ steps answered, in) \\d+\\.\\d s\\); check the server's load and the network to it$`),
    );
    assert.ok(ms < 3_000, `${ms} ms`);
  } finally {
    for (const timer of held) clearTimeout(timer);
    await slow.stop();
  }
});

// A self-signed certificate for 127.0.0.1 (P-256, valid 2026–2126), trusted by nothing: a stand-in
// for an S3 endpoint with a private CA. Test material only.
const testKey = `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgErEedqGbFZs0T3Mw
IMGU9t9dSCz7MJfXlzhZ2filZvShRANCAAQ20BgBsqBPcmOFG4LcFlQDrt2fpKab
PrfwgAUYuL2G+JE4IbJMj4k4dUV8me0WLzh5D+WzSda71ZEH1FLrVIed
-----END PRIVATE KEY-----
`;
const testCert = `-----BEGIN CERTIFICATE-----
MIIBjzCCATagAwIBAgIUO68crCsDbtKANlaIBprTxKFsPO0wCgYIKoZIzj0EAwIw
FDESMBAGA1UEAwwJMTI3LjAuMC4xMCAXDTI2MTEyODEyNDQzNloYDzIxMjYxMTA0
MTI0NDM2WjAUMRIwEAYDVQQDDAkxMjcuMC4wLjEwWTATBgcqhkjOPQIBBggqhkjO
PQMBBwNCAAQ20BgBsqBPcmOFG4LcFlQDrt2fpKabPrfwgAUYuL2G+JE4IbJMj4k4
dUV8me0WLzh5D+WzSda71ZEH1FLrVIedo2QwYjAdBgNVHQ4EFgQUb9U0Wyvpr+No
3cIZTldQI3OwvCowHwYDVR0jBBgwFoAUb9U0Wyvpr+No3cIZTldQI3OwvCowDwYD
VR0TAQH/BAUwAwEB/zAPBgNVHREECDAGhwR/AAABMAoGCCqGSM49BAMCA0cAMEQC
IDE6EwosYjRchza+0PotbWX6v7WF2b95M+UkQZinX3rNAiAcrL+3M6m5OyrW0OWB
SGuy0AnWF5b2jNzZGwe+4JDtNA==
-----END CERTIFICATE-----
`;
