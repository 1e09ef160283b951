import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

export function repoPath(...segments: string[]): string {
  return join(repoRoot, ...segments);
}

export function readRepoFile(path: string): string {
  return readFileSync(repoPath(path), 'utf8');
}

/** Parses YAML the way Compose and Prometheus do: `<<` merge keys are honoured. */
export function readYaml(path: string): unknown {
  return parse(readRepoFile(path), { merge: true });
}

export type EnvValue = string | number | boolean | null;

export interface ComposeDevice {
  driver?: string;
  count?: number | string;
  device_ids?: string[];
  capabilities?: string[];
}

export interface ComposeService {
  image?: string;
  build?: string | { context?: string; dockerfile?: string };
  command?: string | string[];
  entrypoint?: string | string[];
  environment?: Record<string, EnvValue> | string[];
  volumes?: (string | { type?: string; source?: string; target?: string })[];
  ports?: (string | number | { target?: number; published?: number | string; host_ip?: string })[];
  depends_on?: string[] | Record<string, { condition?: string }>;
  healthcheck?: { test?: string | string[]; disable?: boolean; start_period?: string };
  restart?: string;
  deploy?: { resources?: { limits?: { memory?: string }; reservations?: { devices?: ComposeDevice[] } } };
}

export interface ComposeFile {
  services: Record<string, ComposeService>;
  volumes?: Record<string, unknown>;
}

export const composePath = 'docker-compose.yml';

/** The compose file as parsed; its shape is checked against the Compose schema in compose.test.ts. */
export function loadCompose(): ComposeFile {
  return readYaml(composePath) as ComposeFile;
}

export function serviceOf(compose: ComposeFile, name: string): ComposeService {
  const service = compose.services[name];
  if (!service) throw new Error(`${composePath} has no service "${name}"`);
  return service;
}

export function environmentOf(service: ComposeService): Map<string, string> {
  const env = new Map<string, string>();
  const raw = service.environment;
  if (Array.isArray(raw)) {
    for (const entry of raw) {
      const at = entry.indexOf('=');
      env.set(at === -1 ? entry : entry.slice(0, at), at === -1 ? '' : entry.slice(at + 1));
    }
  } else if (raw) {
    for (const [name, value] of Object.entries(raw)) env.set(name, value === null ? '' : String(value));
  }
  return env;
}

export function dependenciesOf(service: ComposeService): Map<string, string> {
  const deps = new Map<string, string>();
  const raw = service.depends_on;
  if (Array.isArray(raw)) for (const name of raw) deps.set(name, 'service_started');
  else if (raw) for (const [name, spec] of Object.entries(raw)) deps.set(name, spec.condition ?? 'service_started');
  return deps;
}

export function commandWords(value: string | string[] | undefined): string[] {
  if (value === undefined) return [];
  return Array.isArray(value) ? value : value.split(/\s+/).filter((w) => w !== '');
}
