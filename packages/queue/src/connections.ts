import { ConfigError } from '@gradcam/config';
import { Redis } from 'ioredis';
import { refuseClusterNode } from './cluster-node-check.ts';
import { QueueUnavailableError } from './errors/queue-unavailable-error.ts';

/** Receives every error a connection emits (ioredis emits one per failed reconnect attempt). */
export type ConnectionErrorListener = (error: Error) => void;

export interface ConnectionOptions {
  readonly onError: ConnectionErrorListener;
  /** Shown by `CLIENT LIST`, so an operator can tell ingest, workers and the exporter apart. */
  readonly name?: string;
  /**
   * The server is a Redis Cluster node (asked at each 'ready', see refuseClusterNode): the
   * ConfigError names REDIS_URL in one line, and a service stops on it (exitOnConfigError). Its
   * scripts build keys of several hash slots, so on a cluster they would fail key by key with
   * MOVED or CROSSSLOT. Without this callback the error goes to onError and the connection is
   * closed.
   */
  readonly onClusterNode?: (error: ConfigError) => void;
  /** The check could not be made (an ACL refusing INFO and CLUSTER INFO): why, told once. */
  readonly onClusterCheckSkipped?: (reason: string) => void;
}

export interface ProducerConnectionOptions extends ConnectionOptions {
  /** How long a command may wait for its reply before it rejects; default `producerCommandTimeoutMs`. */
  readonly commandTimeoutMs?: number;
}

/** How long a producer waits for a TCP connection before counting the attempt as failed. */
const producerConnectTimeoutMs = 2_000;

/**
 * How long a producer command waits for its reply. A Redis that keeps its socket open but stops
 * answering (frozen, swapping, a stuck Lua script) is never seen as down by the connection, and
 * without a deadline a request would wait on it forever.
 */
export const producerCommandTimeoutMs = 2_000;

/**
 * For code that adds jobs or reads counts on a request path (ingest, metrics exporter).
 * With the offline queue off, a command issued while Redis is down or reconnecting rejects at
 * once instead of piling up in memory until the client times out; the caller answers 503 and the
 * client retries. Commands caught mid-flight by a disconnect are retried once on reconnect. A
 * command not answered within the command timeout rejects ("Command timed out"; queueCall states
 * it as QueueUnavailableError), so a Redis that accepts connections but answers nothing is
 * unavailable too. Nothing on a producer connection may block (BRPOP, XREAD BLOCK, SUBSCRIBE).
 */
export function createProducerConnection(url: string, options: ProducerConnectionOptions): Redis {
  const connection = new Redis(url, {
    enableOfflineQueue: false,
    connectTimeout: producerConnectTimeoutMs,
    commandTimeout: options.commandTimeoutMs ?? producerCommandTimeoutMs,
    maxRetriesPerRequest: 1,
    ...(options.name === undefined ? {} : { connectionName: options.name }),
  });
  connection.on('error', options.onError);
  refuseClusterNodes(connection, url, options);
  return connection;
}

/**
 * For BullMQ workers: BullMQ requires `maxRetriesPerRequest: null` (its blocking fetch must
 * survive reconnects rather than fail), and it duplicates this connection for its own use.
 */
export function createWorkerConnection(url: string, options: ConnectionOptions): Redis {
  const connection = new Redis(url, {
    maxRetriesPerRequest: null,
    ...(options.name === undefined ? {} : { connectionName: options.name }),
  });
  connection.on('error', options.onError);
  refuseClusterNodes(connection, url, options);
  return connection;
}

/**
 * Asks at each 'ready' (a reconnect may reach another server behind the same name) whether the
 * server is a Redis Cluster node. A check cut short by a lost connection is left to the next one.
 */
function refuseClusterNodes(connection: Redis, url: string, options: ConnectionOptions): void {
  let skipTold = false;
  connection.on('ready', () => {
    refuseClusterNode(connection, url).then(
      (skipped) => {
        if (skipped === undefined || skipTold) return;
        skipTold = true;
        options.onClusterCheckSkipped?.(skipped);
      },
      (error: unknown) => {
        if (!(error instanceof ConfigError)) return;
        if (options.onClusterNode !== undefined) {
          options.onClusterNode(error);
          return;
        }
        options.onError(error);
        connection.disconnect();
      },
    );
  });
}

/**
 * Settles once the connection can take commands, or fails at once (QueueUnavailableError) when
 * it cannot. A producer connection rejects every command until its first 'ready', so code that
 * uses one directly right after creating it awaits this first. A connection attempt already under
 * way (a fresh client, or a reconnect in progress) is awaited for at most one connect timeout; a
 * client between attempts, or closed, fails at once.
 */
export async function connectionReady(connection: Redis): Promise<void> {
  if (connection.status === 'ready') return;
  if (connection.status !== 'connecting' && connection.status !== 'connect') {
    throw new QueueUnavailableError(`Redis is not connected (connection ${connection.status})`);
  }
  await new Promise<void>((resolve, reject) => {
    const settle = (error?: Error) => {
      clearTimeout(timer);
      connection.off('ready', onReady).off('error', onFailure).off('close', onClose);
      if (error) reject(error);
      else resolve();
    };
    const onReady = () => settle();
    const onFailure = (error: Error) => settle(new QueueUnavailableError(`Redis is not reachable: ${error.message}`, { cause: error }));
    const onClose = () => settle(new QueueUnavailableError('Redis closed the connection while connecting'));
    const waitMs = connection.options.connectTimeout ?? producerConnectTimeoutMs;
    const timer = setTimeout(() => settle(new QueueUnavailableError(`Redis did not become ready within ${waitMs} ms`)), waitMs);
    connection.once('ready', onReady).once('error', onFailure).once('close', onClose);
  });
}

const closing = new WeakMap<Redis, Promise<void>>();

/**
 * Closes a connection; safe to call twice and on a connection that never connected. QUIT lets
 * replies in flight arrive first, and the promise resolves once the socket is gone. When Redis is
 * unreachable QUIT cannot be sent, so the client is disconnected instead, which also cancels its
 * pending reconnect. The 'error' listener stays attached: late errors still reach the logger.
 */
export function closeConnection(connection: Redis): Promise<void> {
  let closed = closing.get(connection);
  if (closed === undefined) {
    closed = (async () => {
      if (connection.status === 'end') return;
      if (connection.status === 'ready') {
        const ended = new Promise<void>((resolve) => connection.once('end', () => resolve()));
        try {
          await connection.quit();
          await ended;
          return;
        } catch {
          // Fall through: the connection dropped while quitting, so disconnect below.
        }
      }
      connection.disconnect();
    })();
    closing.set(connection, closed);
  }
  return closed;
}

/** Closes connections in the order given (e.g. workers' template connection after producers). */
export async function closeConnections(...connections: readonly Redis[]): Promise<void> {
  for (const connection of connections) await closeConnection(connection);
}
