import type { FastifyInstance } from 'fastify';

/**
 * A Fastify route pattern as a RegExp over a request's raw path: `::` is a literal colon (the
 * ingest's `/v1/inferences::batch`), `:name` one segment or part of one, `*` the rest of the path.
 * Only these forms: no service here declares a regex parameter.
 */
function patternOf(url: string): RegExp {
  let source = '';
  for (let at = 0; at < url.length; ) {
    const rest = url.slice(at);
    if (rest.startsWith('::')) {
      source += ':';
      at += 2;
    } else if (rest.startsWith(':')) {
      const name = /^:[A-Za-z0-9_]+/.exec(rest)?.[0] ?? ':';
      source += '[^/]+';
      at += name.length;
    } else if (rest.startsWith('*')) {
      source += '.*';
      at += 1;
    } else {
      source += (rest[0] as string).replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
      at += 1;
    }
  }
  return new RegExp(`^${source}$`);
}

/**
 * The methods each path is routed for, learnt from the routes declared after this is called (an
 * `onRoute` hook): `allowed(path)` lists the methods whose routes take the path, none when no route
 * does. So that a known path asked with another method is 405 with `Allow` (RFC 9110 §15.5.6),
 * not a 404 that tells the client the path does not exist.
 */
export function trackAllowedMethods(app: FastifyInstance): (path: string) => string[] {
  const routes: { pattern: RegExp; methods: string[] }[] = [];
  app.addHook('onRoute', (route) => {
    const methods = (Array.isArray(route.method) ? route.method : [route.method]).map((m) => String(m).toUpperCase());
    routes.push({ pattern: patternOf(route.url), methods });
  });
  return (path) => {
    const allowed = new Set<string>();
    for (const route of routes) if (route.pattern.test(path)) for (const m of route.methods) allowed.add(m);
    return [...allowed].sort();
  };
}
