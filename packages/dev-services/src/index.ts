export { freePort } from './free-port.ts';
export { startOutageProxy, type OutageProxy } from './outage-proxy.ts';
export { withLaunchPrefix } from './launch-prefix.ts';
export { commandNotFoundStatus, signalLeashed, spawnLeashed, type LeashedSpawnOptions } from './leashed-process.ts';
export { processRunning } from './process-running.ts';
export { RedisServerNotFoundError, assertRedisServerInstalled, startRedisServer, type RedisServer, type RedisServerOptions } from './redis-server.ts';
export { RedisServerStartError } from './redis-server-start-error.ts';
export { redisOutageLog, type RedisOutageLogOptions } from './redis-outage-log.ts';
export { startRedisWithClient, type RedisWithClient } from './redis-with-client.ts';
export { startS3PermissionProxy, type S3Permission, type S3PermissionProxy } from './s3-permission-proxy.ts';
export { startServiceMain, type ServiceMain } from './service-main.ts';
export { s3Env, startS3Server, type S3Endpoint, type S3Server, type S3ServerOptions } from './s3-server.ts';
export {
  startTestRedis,
  startTestS3,
  type TestRedis,
  type TestS3,
  type TestS3Options,
  type TestServiceKind,
  type TestServiceOptions,
} from './test-services.ts';
export { assertLinksServedAs, type ServedLinks } from './served-links.ts';
