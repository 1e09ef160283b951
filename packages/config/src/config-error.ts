/** A bad or missing environment variable; the message is one line naming it. */
export class ConfigError extends Error {
  readonly code = 'CONFIG_INVALID';
  readonly variable: string;

  constructor(
    variable: string,
    reason: string,
  ) {
    super(`${variable}: ${reason}`);
    this.variable = variable;
    this.name = 'ConfigError';
  }
}
