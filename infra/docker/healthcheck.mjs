// Container healthcheck: exits 0 when the URL answers 2xx within the timeout, 1 otherwise.
// Plain ESM on purpose: it runs every few seconds, so it must not pay tsx's start-up cost, and
// the slim images have neither curl nor wget.
// Usage: node infra/docker/healthcheck.mjs <url> [timeoutMs]
const [url, timeoutArg = '3000'] = process.argv.slice(2);
if (!url) {
  console.error('usage: node healthcheck.mjs <url> [timeoutMs]');
  process.exit(2);
}
try {
  const response = await fetch(url, { signal: AbortSignal.timeout(Number(timeoutArg)) });
  await response.body?.cancel();
  if (!response.ok) {
    console.error(`${url} answered ${response.status}`);
    process.exit(1);
  }
} catch (error) {
  console.error(`${url}: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
}
