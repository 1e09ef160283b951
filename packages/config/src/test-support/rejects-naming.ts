import assert from 'node:assert/strict';
import { ConfigError } from '../config-error.ts';

/** `read` throws a one-line ConfigError naming `variable`, whose message matches `pattern`. */
export function rejectsNaming(read: () => unknown, variable: string, pattern: RegExp, message?: string): void {
  assert.throws(
    read,
    (error: unknown) => {
      assert.ok(error instanceof ConfigError, message);
      assert.equal(error.variable, variable, message);
      assert.match(error.message, new RegExp(`^${variable}: `), message);
      assert.match(error.message, pattern, message);
      assert.ok(!error.message.includes('\n'), 'one line');
      return true;
    },
    message,
  );
}
