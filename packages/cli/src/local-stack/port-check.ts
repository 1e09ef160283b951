import { createServer } from 'node:net';
import { LocalStackError } from './local-stack-error.ts';

export interface StackPort {
  /** The variable that sets it, named in the error so the fix is obvious. */
  readonly variable: string;
  readonly port: number;
}

function bindable(port: number, host: string): Promise<NodeJS.ErrnoException | undefined> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', (error: NodeJS.ErrnoException) => resolve(error));
    server.listen({ port, host, exclusive: true }, () => server.close(() => resolve(undefined)));
  });
}

/**
 * Checks that each service's port can be bound on `host` before anything starts. Otherwise a port
 * held by another stack is found only when a service fails to listen, after Redis started and the
 * models loaded, and a readiness check can be answered by the other stack's service. Every port
 * that cannot be bound is named at once: a second stack holds them all, not one a run.
 */
export async function checkPortsFree(ports: readonly StackPort[], host = '127.0.0.1'): Promise<void> {
  const seen = new Map<number, string>();
  for (const { variable, port } of ports) {
    const other = seen.get(port);
    if (other !== undefined) throw new LocalStackError('PORT_IN_USE', `${variable}: port ${port} is also ${other}; each service needs its own port`);
    seen.set(port, variable);
  }
  const taken: string[] = [];
  const variables: string[] = [];
  let inUse = 0;
  for (const { variable, port } of ports) {
    const error = await bindable(port, host);
    if (error === undefined) continue;
    if (error.code === 'EADDRINUSE') inUse += 1;
    const why = error.code === 'EADDRINUSE' ? 'is in use (another gradcam up, or another program)' : `cannot be used (${error.code ?? error.message})`;
    taken.push(`${variable}: ${host}:${port} ${why}`);
    variables.push(variable);
  }
  if (taken.length === 0) return;
  // Advice for ports held by something; another failure (EADDRNOTAVAIL: no such address here) is said as it is.
  const held = inUse === taken.length ? (taken.length === 1 ? 'stop what holds it or ' : 'stop what holds them or ') : '';
  const free = taken.length === 1 ? `set ${variables[0]} to a free port` : `set ${variables.join(', ')} to free ports`;
  throw new LocalStackError('PORT_IN_USE', `${taken.join('; ')}; ${held}${free}`);
}
