import type { Redis } from 'ioredis';

export interface ScriptTimes {
  /** Scripts Redis ran (EVAL and EVALSHA calls in INFO commandstats). */
  readonly scripts: number;
  /** Their time in Redis, summed (commandstats usec), ms. */
  readonly scriptMs: number;
  /** The longest one (SLOWLOG), ms; 0 when none took `slowerThanMs` or more. */
  readonly longestMs: number;
}

/**
 * What Redis spent in scripts while `call` ran (nothing else may use this Redis meanwhile):
 * counts and total from INFO commandstats, the longest from SLOWLOG. SLOWLOG logs the commands a
 * script calls too, so only entries of `slowerThanMs` or more are kept (short inner commands
 * would fill it); a script shorter than that is not the longest one worth telling.
 */
export async function scriptTimes(redis: Redis, call: () => Promise<unknown>, slowerThanMs = 0.5): Promise<ScriptTimes> {
  const [, threshold] = (await redis.config('GET', 'slowlog-log-slower-than')) as [string, string];
  await redis.config('SET', 'slowlog-log-slower-than', String(Math.round(slowerThanMs * 1000)));
  await redis.config('RESETSTAT');
  await redis.slowlog('RESET');
  try {
    await call();
    const stats = await redis.info('commandstats');
    const of = (field: string) => [...stats.matchAll(new RegExp(`^cmdstat_eval(?:sha)?:.*?${field}=(\\d+)`, 'gm'))].reduce((sum, match) => sum + Number(match[1]), 0);
    const log = (await redis.slowlog('GET', -1)) as [number, number, number, string[]][];
    const longest = log.filter(([, , , args]) => /^eval/i.test(args[0] ?? '')).map(([, , usec]) => usec / 1000);
    return { scripts: of('calls'), scriptMs: of('usec') / 1000, longestMs: Math.max(0, ...longest) };
  } finally {
    await redis.config('SET', 'slowlog-log-slower-than', threshold);
  }
}
