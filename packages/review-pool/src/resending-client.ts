import type { Redis } from 'ioredis';

type Eval = (...args: unknown[]) => Promise<unknown>;

/**
 * For the tests: `redis` as the pool sees it, except that the next `eval` after `resendNext()`
 * runs twice with the very same arguments and answers the second reply (what ioredis does with a
 * command whose reply a dropped connection lost: it sends it again after reconnecting), and the
 * next one after `timeOutNext()` runs and then fails as a command timeout does (Redis ran it, the
 * client never knew).
 */
export function resendingClient(redis: Redis): { client: Redis; resendNext: () => void; timeOutNext: () => void } {
  let next: 'resend' | 'time out' | undefined;
  const run = (args: unknown[]) => (redis.eval as Eval).apply(redis, args);
  const client = new Proxy(redis, {
    get(target, property) {
      if (property !== 'eval') {
        const value: unknown = Reflect.get(target, property, target);
        return typeof value === 'function' ? (value as Eval).bind(target) : value;
      }
      return async (...args: unknown[]) => {
        const mode = next;
        next = undefined;
        if (mode === 'resend') await run(args).catch(() => undefined);
        const reply = await run(args);
        if (mode === 'time out') throw new Error('Command timed out');
        return reply;
      };
    },
  });
  return {
    client,
    resendNext: () => {
      next = 'resend';
    },
    timeOutNext: () => {
      next = 'time out';
    },
  };
}
