import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { ConsoleMessage } from 'playwright-core';
import { waitFor } from '../support/wait-for.ts';
import { type PageStack, startPageStack } from './page-stack.ts';

// The page had no icon, so Chromium asked for /favicon.ico on every load and logged its 404 as a
// console error. It now names an icon that needs no request (data:, which img-src allows).

let stack: PageStack;

before(async () => {
  stack = await startPageStack();
  await stack.seed('icon-a');
});

after(async () => {
  await stack?.close();
});

test('loading the page asks for no /favicon.ico and logs no console error', async () => {
  const page = stack.page;
  const consoleErrors: string[] = [];
  const onConsole = (message: ConsoleMessage) => {
    if (message.type() === 'error') consoleErrors.push(`${message.text()} (${message.location().url})`);
  };
  page.on('console', onConsole);
  // Counted where the service receives it: Playwright does not see the browser's own icon request.
  const favicon = stack.hold('GET', '/favicon.ico', 0);
  try {
    await stack.signIn('icon-a');
    const icon = await page.evaluate(`[...document.querySelectorAll('link[rel~="icon"]')].map((link) => link.href)`);
    assert.deepEqual(icon, ['data:,'], 'one icon, given in the page itself');
    // The icon is looked for once the page has loaded, with nothing to wait on when all is well:
    // wait a while for either sign of it (at once before the fix), then check neither came.
    // A slow machine could let a regression pass here, never fail a good page.
    await waitFor('an icon request or a console error', async () => (favicon.count() > 0 || consoleErrors.length > 0 ? true : undefined), 3_000, 50).catch(() => {});
    assert.equal(favicon.count(), 0, 'no request for /favicon.ico');
    assert.deepEqual(consoleErrors, []);
    assert.deepEqual(stack.pageErrors, []);
  } finally {
    favicon.stop();
    page.off('console', onConsole);
  }
});
