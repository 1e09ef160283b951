// s3rver ships no types; referenced here so every program that compiles this file sees them.
/// <reference path="./s3rver.d.ts" />
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface S3ServerOptions {
  /** Where objects live; a fresh temporary directory (removed on stop) when omitted. */
  readonly dir?: string;
  /** Buckets that exist from the start. */
  readonly buckets?: readonly string[];
}

/** Everything an S3 client needs to talk to a local S3-compatible server. */
export interface S3Endpoint {
  /** 'http://127.0.0.1:<port>'; clients must use path-style URLs (`forcePathStyle: true`). */
  readonly endpoint: string;
  readonly region: string;
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
}

/**
 * The S3_* variables a service's main reads to use `bucket` at `s3` (at `endpoint` instead where
 * given: a proxy in front of the server), for tests that run a main as a process.
 */
export function s3Env(s3: S3Endpoint, bucket: string, endpoint = s3.endpoint): Record<string, string> {
  return { S3_BUCKET: bucket, S3_ENDPOINT: endpoint, S3_REGION: s3.region, S3_ACCESS_KEY_ID: s3.accessKeyId, S3_SECRET_ACCESS_KEY: s3.secretAccessKey };
}

export interface S3Server extends S3Endpoint {
  readonly port: number;
  /** Where the objects are (the temporary directory when none was given). */
  readonly dir: string;
  /** Closes the server (open connections too) and removes its temporary directory; safe twice. */
  stop(): Promise<void>;
}

/**
 * Starts s3rver in this process on a free port of 127.0.0.1: a real S3 HTTP API on the local
 * filesystem, for tests and the local stack. It accepts any credentials (it checks no
 * signatures); the ones returned are only there so SDK clients have something to sign with.
 */
export async function startS3Server(options: S3ServerOptions = {}): Promise<S3Server> {
  // Loaded here, not at the top: s3rver pulls in Koa and winston, which callers of the rest of
  // dev-services (the Redis helpers) should not pay for.
  const { default: S3rver } = await import('s3rver');
  const ownDir = options.dir === undefined;
  const dir = options.dir ?? (await mkdtemp(join(tmpdir(), 'gradcam-s3-')));
  const server = new S3rver({
    address: '127.0.0.1',
    // Port 0: the OS picks a free port at bind time, so there is no window in which another
    // process can take it (freePort() would have to retry on EADDRINUSE).
    port: 0,
    silent: true,
    directory: dir,
    configureBuckets: (options.buckets ?? []).map((name) => ({ name, configs: [] })),
  });
  // Koa emits every error a request raised, after answering it as an S3 XML error (NoSuchKey,
  // NoSuchBucket, …). Clients see those; without a listener Koa would print each one to stderr.
  server.on('error', () => {});
  let address;
  try {
    address = await server.run();
  } catch (error) {
    if (ownDir) await rm(dir, { recursive: true, force: true });
    throw error;
  }
  const httpServer = server.httpServer;
  httpServer?.on('error', () => {});
  let stopped: Promise<void> | undefined;
  return {
    endpoint: `http://127.0.0.1:${address.port}`,
    port: address.port,
    dir,
    region: 'us-east-1',
    accessKeyId: 'S3RVER',
    secretAccessKey: 'S3RVER',
    stop() {
      stopped ??= (async () => {
        const closed = server.close();
        // close() waits for keep-alive connections (the SDK keeps them); end them now.
        httpServer?.closeAllConnections();
        await closed;
        if (ownDir) await rm(dir, { recursive: true, force: true });
      })();
      return stopped;
    },
  };
}
