import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Request } from 'playwright-core';
import { type PageStack, reviewerToken, startPageStack } from './page-stack.ts';

// What an attacker's-eye probe of the page checked: every string of an item the page shows is
// text, never markup, even with the Content-Security-Policy out of the way; and the page tells no
// other host where it lives (the image hosts it loads presigned links from included).

let stack: PageStack;
/** Markup that would run, restyle the page or make a link if it were taken as HTML. */
const hostile = (where: string) =>
  `"><img src=x data-hostile onerror="window.hostile=(window.hostile||[]).concat('${where}')"><svg data-hostile onload="window.hostile=(window.hostile||[]).concat('${where}')"></svg><style>body{background:rgb(255,0,0)}</style><a data-hostile href="javascript:alert(1)">x</a>`;

before(async () => {
  stack = await startPageStack();
  await stack.seed(
    'hostile-1',
    { label: hostile('label'), model: hostile('model'), sampling: { sampled: true, policy: hostile('policy'), term: hostile('term'), reason: hostile('reason'), detail: hostile('detail'), priority: 0.5 } },
    (manifest) => {
      // Every string of the stored explanation the page shows, as a worker (or whoever can write the bucket) could store it.
      const stored = manifest as unknown as { model: Record<string, unknown>; engine: Record<string, unknown>; input: Record<string, unknown> };
      stored.model.name = hostile('model name');
      stored.model.version = hostile('model version');
      stored.model.targetLayer = hostile('layer');
      stored.engine.backend = hostile('backend');
      stored.input.format = hostile('format');
      manifest.model.labels = manifest.model.labels.map((_, i) => hostile(`class ${i}`));
      for (const entry of manifest.explanations) entry.label = hostile(`explanation ${entry.classIndex}`);
    },
  );
});

after(async () => {
  await stack?.close();
});

test('no request of the page carries a Referer: image hosts (presigned links) and the API are not told the page\'s address', async () => {
  const sent: string[] = [];
  const onRequest = (request: Request) => void request.allHeaders().then((headers) => sent.push(`${request.resourceType()} ${new URL(request.url()).pathname}: ${headers.referer ?? ''}`));
  stack.context.on('request', onRequest);
  try {
    await stack.signIn('hostile-1');
  } finally {
    stack.context.off('request', onRequest);
  }
  assert.ok(sent.some((line) => line.startsWith('image ')), `images were loaded: ${sent.join('\n')}`);
  assert.ok(sent.some((line) => line.startsWith('fetch ')), `the API was called: ${sent.join('\n')}`);
  assert.deepEqual(sent.filter((line) => !line.endsWith(': ')), [], 'requests that told a Referer');
});

test('every string of the item is shown as text, with the Content-Security-Policy bypassed too: nothing runs, no element or style is added', async () => {
  for (const bypassCSP of [false, true]) {
    const context = await stack.browser.newContext({ bypassCSP });
    try {
      const page = await context.newPage();
      // Held already, and another model in the filter: the page says whose model the item is (item.model).
      assert.equal((await stack.api('GET', '/v1/reviews/next')).status, 200);
      await page.goto(stack.url);
      await page.evaluate(`localStorage.setItem('gradcam-review.token', ${JSON.stringify(reviewerToken)}); localStorage.setItem('gradcam-review.model', 'another-model')`);
      await page.reload();
      await stack.shows('hostile-1', page);
      // Every class and method shown, and an image error.
      for (const key of ['c', 'c', 'm', 'ArrowRight', 'ArrowLeft']) await page.keyboard.press(key);
      await page.evaluate(`document.getElementById('overlay-image').dispatchEvent(new Event('error'))`);
      const seen = await page.evaluate<{ ran: unknown; added: number; background: string; label: string; banner: string; details: string }>(`({
        ran: window.hostile ?? null,
        added: document.querySelectorAll('[data-hostile], svg, body style, main style').length,
        background: getComputedStyle(document.body).backgroundColor,
        label: document.getElementById('prediction-label').textContent,
        banner: document.getElementById('banner-text').textContent,
        details: document.getElementById('details').textContent,
      })`);
      assert.deepEqual([seen.ran, seen.added], [null, 0], `bypassCSP ${bypassCSP}`);
      assert.notEqual(seen.background, 'rgb(255, 0, 0)', `bypassCSP ${bypassCSP}`);
      assert.equal(seen.label, hostile('label'), 'the label is shown as it is');
      assert.ok(seen.banner.includes(hostile('model')), `the banner names the model as it is: ${seen.banner}`);
      for (const where of ['model name', 'model version', 'reason', 'detail', 'policy', 'term', 'backend', 'layer']) assert.ok(seen.details.includes(hostile(where)), `details show ${where} as text`);
    } finally {
      await context.close();
    }
  }
});
