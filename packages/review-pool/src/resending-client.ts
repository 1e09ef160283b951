import type { Redis } from 'ioredis';

type Eval = (...args: unknown[]) => Promise<unknown>;

/**
 * For the tests: `redis` as the pool sees it, except that the next `eval` after `resendNext()`
 * runs twice with the very same arguments and answers the second reply (what ioredis does with a
 * command whose reply a dropped connection lost: it sends it again after reconnecting), and the
 * next one after `timeOutNext()` runs and then fails as a command timeout does (Redis ran it, the
 * client never knew), and the next one after `refuseNext()` fails without running (as a command
 * issued while a producer connection reconnects does: it has no offline queue).
 */
export function resendingClient(redis: Redis): { client: Redis; resendNext: () => void; timeOutNext: () => void; refuseNext: () => void } {
  // One mode per coming eval, in order (a begin that times out, then its clear refused).
  const next: ('resend' | 'time out' | 'refuse')[] = [];
  const run = (args: unknown[]) => (redis.eval as Eval).apply(redis, args);
  const client = new Proxy(redis, {
    get(target, property) {
      if (property !== 'eval') {
        const value: unknown = Reflect.get(target, property, target);
        return typeof value === 'function' ? (value as Eval).bind(target) : value;
      }
      return async (...args: unknown[]) => {
        const mode = next.shift();
        if (mode === 'refuse') throw new Error("Stream isn't writeable and enableOfflineQueue options is false");
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
      next.push('resend');
    },
    timeOutNext: () => {
      next.push('time out');
    },
    refuseNext: () => {
      next.push('refuse');
    },
  };
}
