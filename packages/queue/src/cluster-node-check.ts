import { ConfigError, redactedUrl } from '@gradcam/config';
import type { Redis } from 'ioredis';

/** What a server said about cluster mode, or why it could not be asked. */
export type ClusterMode = { readonly clusterEnabled: boolean; readonly evidence: string } | { readonly skipped: string };

/**
 * Asks the server whether it runs as a Redis Cluster node: `INFO cluster` (`cluster_enabled:1`),
 * or `CLUSTER INFO` where INFO is refused or says nothing about it (a non-cluster server answers
 * that one with an error: "cluster support disabled"). An ACL that refuses both is `skipped`, not
 * an error: a server the process may use otherwise must not be refused for a command it may not
 * send. A connection error (not a reply) rejects, as any command's would.
 */
export async function clusterMode(redis: Redis): Promise<ClusterMode> {
  let infoAnswer: string;
  try {
    const info = await redis.info('cluster');
    const enabled = /^cluster_enabled:(\d+)/m.exec(info)?.[1];
    if (enabled !== undefined) return { clusterEnabled: enabled !== '0', evidence: `cluster_enabled:${enabled}` };
    infoAnswer = 'INFO cluster has no cluster_enabled';
  } catch (error) {
    infoAnswer = `INFO refused: ${replyErrorOf(error).message}`;
  }
  try {
    await redis.call('CLUSTER', 'INFO');
    return { clusterEnabled: true, evidence: 'it answers CLUSTER INFO' };
  } catch (error) {
    const { message } = replyErrorOf(error);
    if (/cluster support disabled/i.test(message)) return { clusterEnabled: false, evidence: message };
    return { skipped: `${infoAnswer}; CLUSTER INFO refused: ${message}` };
  }
}

/** The error reply Redis answered with; anything else (a lost connection, a timeout) is thrown again. */
function replyErrorOf(error: unknown): Error {
  if (error instanceof Error && error.name === 'ReplyError') return error;
  throw error;
}

/** The one line a Redis Cluster node is refused with, naming the variable it came from. */
export function clusterNodeError(url: string, evidence: string, variable = 'REDIS_URL'): ConfigError {
  return new ConfigError(
    variable,
    `${redactedUrl(url)} is a Redis Cluster node (${evidence}); gradcam-pipeline needs a single Redis primary (its scripts touch keys in several hash slots): use a non-cluster Redis or a cluster-mode-disabled replication group`,
  );
}

/**
 * Throws clusterNodeError when the server is a Redis Cluster node; resolves with the reason when
 * it could not be asked (the caller says so in its log), undefined when it is not a cluster node.
 */
export async function refuseClusterNode(redis: Redis, url: string, variable = 'REDIS_URL'): Promise<string | undefined> {
  const mode = await clusterMode(redis);
  if ('skipped' in mode) return mode.skipped;
  if (mode.clusterEnabled) throw clusterNodeError(url, mode.evidence, variable);
  return undefined;
}
