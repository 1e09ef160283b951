import { isIP } from 'node:net';
import { ConfigError } from './config-error.ts';

/** Dot-separated labels of letters, digits and inner hyphens, at most 63 each, 253 in all. */
const hostnamePattern = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/;

export type Env = Readonly<Record<string, string | undefined>>;

/**
 * Typed accessors over one environment snapshot. Each throws a ConfigError naming the variable,
 * so a service stops at boot with one line instead of failing later in some request.
 */
export class EnvReader {
  constructor(private readonly env: Env) {}

  string(name: string, fallback?: string): string {
    const value = this.optionalString(name) ?? fallback;
    if (value === undefined) throw new ConfigError(name, 'is required but not set');
    return value;
  }

  optionalString(name: string): string | undefined {
    const value = this.env[name]?.trim();
    return value === undefined || value === '' ? undefined : value;
  }

  integer(name: string, fallback: number, { min = 0, max = Number.MAX_SAFE_INTEGER } = {}): number {
    const raw = this.optionalString(name);
    if (raw === undefined) return fallback;
    if (!/^-?\d+$/.test(raw)) throw new ConfigError(name, `expected an integer, got "${raw}"`);
    const value = Number(raw);
    if (value < min || value > max) throw new ConfigError(name, `expected an integer from ${min} to ${max}, got ${value}`);
    return value;
  }

  boolean(name: string, fallback: boolean): boolean {
    const raw = this.optionalString(name)?.toLowerCase();
    if (raw === undefined) return fallback;
    if (['1', 'true', 'yes', 'on'].includes(raw)) return true;
    if (['0', 'false', 'no', 'off'].includes(raw)) return false;
    throw new ConfigError(name, `expected true or false, got "${raw}"`);
  }

  oneOf<const T extends string>(name: string, choices: readonly T[], fallback: T): T {
    const raw = this.optionalString(name);
    if (raw === undefined) return fallback;
    if (!(choices as readonly string[]).includes(raw)) throw new ConfigError(name, `expected one of ${choices.join(', ')}, got "${raw}"`);
    return raw as T;
  }

  list(name: string, fallback: readonly string[] = []): string[] {
    const raw = this.optionalString(name);
    if (raw === undefined) return [...fallback];
    return raw
      .split(',')
      .map((item) => item.trim())
      .filter((item) => item !== '');
  }

  /**
   * An address to listen on: an IP literal (IPv6 bare, as `listen()` takes it) or a hostname
   * (RFC 1123 labels). Checked here so a typo stops the service with one line, not with a
   * getaddrinfo stack trace from `listen()`.
   */
  host(name: string, fallback: string): string {
    const value = this.string(name, fallback);
    if (isIP(value) !== 0 || hostnamePattern.test(value)) return value;
    throw new ConfigError(name, `expected an IP address or a hostname (e.g. 0.0.0.0, 127.0.0.1, ::, localhost), got "${value}"`);
  }

  url(name: string, fallback: string | undefined, protocols: readonly string[]): string | undefined {
    const raw = this.optionalString(name) ?? fallback;
    if (raw === undefined) return undefined;
    let parsed: URL;
    try {
      parsed = new URL(raw);
    } catch {
      throw new ConfigError(name, `expected a URL, got "${raw}"`);
    }
    if (!protocols.includes(parsed.protocol)) throw new ConfigError(name, `expected a ${protocols.join(' or ')} URL, got "${raw}"`);
    return raw;
  }
}
