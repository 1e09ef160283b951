export { freePort } from './free-port.ts';
export { RedisServerNotFoundError, startRedisServer, type RedisServer, type RedisServerOptions } from './redis-server.ts';
