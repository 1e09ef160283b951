import { isIP } from 'node:net';
import { ConfigError } from './config-error.ts';
import { redactedUrl } from './redacted-url.ts';

/** Dot-separated labels of letters, digits and inner hyphens, at most 63 each, 253 in all. */
const hostnamePattern = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/;

export type UrlKind = 'redis' | 'http';

interface UrlForm {
  readonly protocols: readonly string[];
  /** Spelled out in every error. */
  readonly form: string;
  /** The path, if any, is a database number (ioredis SELECTs whatever follows the slash). */
  readonly database?: boolean;
  /** Other URLs are built by appending to it (presigned links, S3 requests): a user, query or fragment would land inside them. */
  readonly base?: boolean;
}

const urlForms: Readonly<Record<UrlKind, UrlForm>> = {
  // ioredis reads options from the query (`?family=6`), so a Redis URL may have one.
  redis: { protocols: ['redis:', 'rediss:'], form: 'redis://[user:password@]host[:port][/db] (rediss:// for TLS)', database: true },
  http: { protocols: ['http:', 'https:'], form: 'http://host[:port][/path] or https://host[:port][/path]', base: true },
};

export type Env = Readonly<Record<string, string | undefined>>;

/**
 * Typed accessors over one environment snapshot. Each throws a ConfigError naming the variable,
 * so a service stops at boot with one line instead of failing later in some request.
 */
export class EnvReader {
  private readonly env: Env;

  constructor(env: Env) {
    this.env = env;
  }

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

  /**
   * A URL of one of the shapes in `urlForms`, as written (trimmed). The WHATWG parser alone is not
   * enough: it reads `redis:host:6379` and `redis:/host` as a host-less URL with a path (ioredis
   * then connects to a host named `redis`, a real one in compose, or throws a bare TypeError),
   * `redis://` as no host at all (localhost), and `http:host` as `http://host/`; so the value must
   * spell `scheme://` and a host itself.
   */
  url(name: string, fallback: string, kind: UrlKind): string;
  url(name: string, fallback: string | undefined, kind: UrlKind): string | undefined;
  url(name: string, fallback: string | undefined, kind: UrlKind): string | undefined {
    const raw = this.optionalString(name) ?? fallback;
    if (raw === undefined) return undefined;
    const { protocols, form, database = false, base = false } = urlForms[kind];
    const refuse = (why?: string) => new ConfigError(name, `expected ${form}, got "${redactedUrl(raw)}"${why === undefined ? '' : `: ${why}`}`);
    let parsed: URL;
    try {
      parsed = new URL(raw);
    } catch {
      throw refuse();
    }
    const { protocol } = parsed;
    if (!protocols.includes(protocol)) throw refuse();
    const afterScheme = raw.slice(protocol.length);
    // `//` then the host at once: `http:///host` and `http:\\host` parse too, but only by the
    // parser's leniency for http(s), which a Redis client does not share.
    if (!afterScheme.startsWith('//') || /^[/\\]/.test(afterScheme.slice(2))) throw refuse('the scheme must be followed by "//" and the host');
    if (parsed.hostname === '') throw refuse('no host');
    if (parsed.port === '0') throw refuse('port 0');
    if (database && !/^(?:\/\d*)?$/.test(parsed.pathname)) throw refuse(`"${parsed.pathname}" is not a database number`);
    if (base && (/[?#]/.test(raw) || parsed.username !== '' || parsed.password !== '')) throw refuse('other URLs are built on it, so it takes no user, query or fragment');
    return raw;
  }
}
