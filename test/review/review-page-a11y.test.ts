import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, test, type TestContext } from 'node:test';
import type { Page, Request } from 'playwright-core';
import { waitFor } from '../support/wait-for.ts';
import { type Manifest, type PageStack, reviewerToken, startPageStack } from './page-stack.ts';

// Accessibility (WCAG 2.1 AA, which regulated customers must meet): axe-core run in headless
// Chromium on every state of the page (the token prompt, with and without a refusal; an item
// shown; a verdict kept with its Undo offered; nothing pending; an error), and the page used by
// keyboard alone. Axe goes in through the DevTools protocol (page.evaluate), which the page's
// Content-Security-Policy does not govern: page.addScriptTag adds an inline <script>, which that
// policy refuses, as it should (no 'unsafe-inline'), and the policy stays on for this test.

const axeSource = await readFile(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const wcagTags = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'];

interface AxeViolation {
  id: string;
  impact: 'minor' | 'moderate' | 'serious' | 'critical' | null;
  help: string;
  nodes: { target: string[]; failureSummary?: string }[];
}

let stack: PageStack;
/** Longer than the page's guard after an item is shown (400 ms). */
const lookMs = 600;

/** Two methods and two classes, so that every kind of control the item view has is there. */
const twoOfEach = (manifest: Manifest) => {
  const first = manifest.explanations[0];
  if (!first) return;
  manifest.explanations.push({ ...structuredClone(first), method: 'layercam' } as typeof first);
  const drawing = structuredClone(first);
  drawing.classIndex = 0;
  drawing.label = manifest.model.labels[0] ?? 'Drawing';
  drawing.overlay.path = 'gradcam-0.overlay.jpg';
  drawing.rawMap.path = 'gradcam-0.npy';
  manifest.explanations.push(drawing);
};

before(async () => {
  stack = await startPageStack();
  await stack.seed('a11y-a', { label: 'Neutral', probability: 0.98, sampling: { sampled: true, policy: 'p', reason: 'r', priority: 0.9 } }, twoOfEach);
  await stack.seed('a11y-b', { label: 'Neutral', probability: 0.98, sampling: { sampled: true, policy: 'p', reason: 'r', priority: 0.8 } });
});

after(async () => {
  await stack?.close();
});

/** Runs axe with the WCAG 2.0/2.1 A and AA rules on the page as it is; every violation is recorded, the serious and critical ones fail. */
async function audit(t: TestContext, state: string, page: Page = stack.page): Promise<AxeViolation[]> {
  if (!(await page.evaluate<boolean>(`typeof window.axe === 'object'`))) await page.evaluate(axeSource);
  const violations = await page.evaluate<AxeViolation[]>(
    `axe.run(document, { runOnly: { type: 'tag', values: ${JSON.stringify(wcagTags)} }, resultTypes: ['violations'] }).then((r) => r.violations)`,
  );
  const said = violations.map((v) => `${v.impact ?? 'unknown'} ${v.id} (${v.help}): ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
  for (const line of said) t.diagnostic(`${state}: ${line}`);
  const blocking = violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  assert.deepEqual(
    blocking.map((v) => `${v.impact} ${v.id}: ${v.nodes.map((n) => `${n.target.join(' ')} ${n.failureSummary ?? ''}`).join('; ')}`),
    [],
    `${state}: serious or critical WCAG 2.1 A/AA violations`,
  );
  return violations;
}

/**
 * The element with the focus: its name, whether a focus indicator is drawn (a computed outline or
 * box-shadow), and the contrast of the outline's colour against what is painted under it, just
 * outside the element (inside, for a ring drawn within it).
 */
const focused = (page: Page = stack.page) =>
  page.evaluate<{ name: string; indicator: string; ringContrast: number | null }>(`(() => {
    const node = document.activeElement;
    const style = getComputedStyle(node);
    const name = node === document.body ? 'body' : node.id || node.dataset.verdict || (node.textContent ?? '').replace(/\\s+/g, ' ').trim();
    const outline = style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) > 0;
    const shadow = style.boxShadow !== 'none';
    const rgb = (text) => (text.match(/[\\d.]+/g) ?? []).map(Number);
    const luminance = ([r, g, b]) => [r, g, b].map((c) => (c /= 255) <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4).reduce((sum, c, i) => sum + c * [0.2126, 0.7152, 0.0722][i], 0);
    let ringContrast = null;
    if (outline) {
      const rect = node.getBoundingClientRect();
      const middle = parseFloat(style.outlineOffset) + parseFloat(style.outlineWidth) / 2;
      const x = rect.left - middle >= 0 ? rect.left - middle : rect.right + middle;
      const under = document.elementsFromPoint(x, rect.top + rect.height / 2).map((e) => rgb(getComputedStyle(e).backgroundColor)).find((c) => c.length === 3 || c[3] > 0.5);
      const [a, b] = [luminance(rgb(style.outlineColor)), luminance(under ?? [255, 255, 255])].sort((p, q) => q - p);
      ringContrast = Math.round(((a + 0.05) / (b + 0.05)) * 100) / 100;
    }
    return { name, indicator: outline ? 'outline' : shadow ? 'box-shadow' : 'none', ringContrast };
  })()`);

const read = <T>(expression: string) => stack.page.evaluate<T>(expression);

/** The footer's entries a sighted user sees (the switch, a label, is not one), in words: "R refresh". */
const footerKeys = async (page: Page = stack.page) =>
  (await page.locator('footer.keys > span:visible').allTextContents()).map((text) => text.replace(/\s+/g, ' ').trim());

test('the token prompt has no serious or critical WCAG 2.1 AA violation, nor with a refusal said; Tab goes to the token first', async (t) => {
  const page = stack.page;
  await page.goto(stack.url);
  await page.getByLabel('Reviewer token').waitFor();
  await audit(t, 'token prompt');
  assert.equal((await focused()).name, 'token');
  // The skip link leads to the verdicts of an item: with none shown it led nowhere, before the token.
  await page.keyboard.press('Shift+Tab');
  assert.equal((await focused()).name, 'body');
  await page.getByLabel('Reviewer token').fill('not-a-reviewer-token-at-all');
  await page.keyboard.press('Enter');
  await page.locator('#signin-reason', { hasText: '401' }).waitFor();
  await audit(t, 'token prompt after a refused token');
});

test('an item shown has no serious or critical violation; its images say what they are, its changing counts are live, its shortcuts are announced', async (t) => {
  const page = stack.page;
  await stack.signIn('a11y-a');
  await page.locator('#backlog', { hasText: /^1 waiting$/ }).waitFor();
  await audit(t, 'item shown');
  assert.equal(await read<string>(`document.getElementById('input-image').alt`), 'Input image of a11y-a, predicted Neutral (98.0%)');
  assert.equal(await read<string>(`document.getElementById('overlay-image').alt`), 'gradcam heatmap for class Neutral (98.0%, the predicted class) over the input image');
  assert.equal(await read<string>(`document.getElementById('overlay-base').alt`), '', 'the copy of the input under the heatmap is decoration');
  // "N waiting" changes as the reviewer and others work: a status a screen reader follows (as the banner's line is).
  assert.equal(await page.locator('#backlog').getAttribute('role'), 'status');
  assert.equal(await page.locator('#banner-text').getAttribute('role'), 'status');
  // Bold and colour mark the predicted class among the top scores: in words too.
  assert.equal(((await page.locator('#top-scores li').first().textContent()) ?? '').trim(), 'Neutral98.0% (predicted) (heatmap shown)');
  const shortcuts = await read<Record<string, string | null>>(`Object.fromEntries([...document.querySelectorAll('.verdict, #skip, #undo, #load-again, #more-time, #opacity, #comment, [aria-labelledby=methods-label], [aria-labelledby=classes-label], .viewer')].map((e) => [e.id || e.dataset.verdict || e.getAttribute('aria-labelledby') || e.className, e.getAttribute('aria-keyshortcuts')]))`);
  assert.deepEqual(shortcuts, {
    viewer: 'ArrowLeft ArrowRight',
    opacity: '[ ]',
    'methods-label': 'M Shift+M',
    'classes-label': 'C Shift+C',
    supports: '1',
    'wrong-evidence': '2',
    'wrong-prediction': '3',
    unsure: '4',
    comment: '/',
    skip: 'S',
    undo: 'U',
    'more-time': 'E',
    'load-again': 'R',
  });
  // The footer is the list a sighted keyboard user reads: every key a control declares is in it, and
  // it lists no key that nothing declares (Shift+ keys go with their key; 1–4 is a range).
  const keys = await read<{ declared: string[]; listed: string[] }>(`(() => {
    const arrows = { ArrowLeft: '←', ArrowRight: '→' };
    const declared = [...document.querySelectorAll('[aria-keyshortcuts]')].flatMap((e) => e.getAttribute('aria-keyshortcuts').split(' ')).map((k) => k.replace(/^Shift\\+/, '')).map((k) => arrows[k] ?? k.toUpperCase());
    const listed = [...document.querySelectorAll('footer.keys > *')].flatMap((span) => {
      const caps = [...span.querySelectorAll('kbd')].map((k) => k.textContent.toUpperCase());
      const [from, to] = caps.map(Number);
      return caps.length === 2 && span.textContent.includes('–') && from < to ? Array.from({ length: to - from + 1 }, (_, i) => String(from + i)) : caps;
    });
    const sorted = (list) => [...new Set(list)].sort();
    return { declared: sorted(declared), listed: sorted(listed) };
  })()`);
  assert.deepEqual(keys.listed, keys.declared, 'the footer lists the keys the controls declare');
});

test("on a phone (390 px: one column, the viewer laid out with display: contents) no serious or critical violation, and Chromium's accessibility tree still has the viewer region and its controls", async (t) => {
  const page = stack.page;
  const size = page.viewportSize();
  await page.setViewportSize({ width: 390, height: 844 });
  try {
    await audit(t, 'item shown on a phone');
    // What a screen reader is given, not the DOM's attributes: some engines drop the role of an
    // element with display: contents.
    const cdp = await page.context().newCDPSession(page);
    try {
      const { nodes } = (await cdp.send('Accessibility.getFullAXTree')) as { nodes: { role?: { value?: string }; name?: { value?: string }; ignored?: boolean }[] };
      const named = (role: string, name: string) => nodes.some((n) => !n.ignored && n.role?.value === role && (n.name?.value ?? '').startsWith(name));
      assert.ok(named('region', 'Image and explanation'), 'the viewer is a named region in the accessibility tree');
      // Its label ends in the keys that move it ("Overlay opacity [ ]").
      assert.ok(named('slider', 'Overlay opacity'), 'its opacity slider is there');
    } finally {
      await cdp.detach();
    }
  } finally {
    if (size) await page.setViewportSize(size);
  }
});

test('keyboard only: Tab reaches every control in order, each with a visible focus ring of 3:1, and the shortcut keys still work', async (t) => {
  const page = stack.page;
  // Fresh from a load, as a keyboard user starts: nothing focused.
  await stack.signIn('a11y-a');
  const order: string[] = [];
  for (let i = 0; i < 30; i++) {
    await page.keyboard.press('Tab');
    const now = await focused();
    if (now.name === 'body' || order.includes(now.name)) break;
    order.push(now.name);
    t.diagnostic(`${now.name}: ${now.indicator}, ring ${now.ringContrast}:1`);
    assert.notEqual(now.indicator, 'none', `${now.name} shows that it has the focus`);
    if (now.ringContrast !== null) assert.ok(now.ringContrast >= 3, `${now.name}: focus ring ${now.ringContrast}:1 against what is under it, under 3:1`);
  }
  assert.deepEqual(order, [
    'Skip to the verdict',
    'model-filter',
    'Apply',
    'sign-out',
    'opacity',
    'gradcam',
    'layercam',
    'Neutral 98%',
    'Drawing 98%',
    'supports',
    'wrong-evidence',
    'wrong-prediction',
    'unsure',
    'comment',
    'skip',
    'shortcut-keys',
  ]);

  // The skip link takes the focus to the verdicts; from there the keys work as before.
  await page.evaluate(`document.querySelector('.skip-link').focus()`);
  await page.keyboard.press('Enter');
  assert.equal((await focused()).name, 'verdicts');
  await page.keyboard.press(']');
  assert.equal(await read<string>(`document.getElementById('opacity-value').textContent`), '80%');
  await page.keyboard.press('[');
  assert.equal(await read<string>(`document.getElementById('opacity-value').textContent`), '70%');
  await page.keyboard.press('c');
  assert.equal(await page.getByRole('button', { name: 'Drawing 98%' }).getAttribute('aria-pressed'), 'true');
  assert.equal(await read<string>(`document.getElementById('overlay-image').alt`), 'gradcam heatmap for class Drawing (98.0%) over the input image');
  // Another class than the predicted one: the switch says too that the verdict stays on the prediction.
  assert.equal(
    await read<string>(`document.getElementById('explanation-status').textContent`),
    'Showing the gradcam heatmap for class Drawing (98.0%) over the input image, explanation 3 of 3. The heatmap shown is gradcam for Drawing, not the predicted class: your verdict is recorded on the prediction, Neutral, with this heatmap noted as the one shown.',
  );
  await page.keyboard.press('m');
  assert.equal(await page.getByRole('button', { name: 'layercam' }).getAttribute('aria-pressed'), 'true');
  assert.equal(await read<string>(`document.getElementById('explanation-status').textContent`), 'Showing the layercam heatmap for class Neutral (98.0%, the predicted class) over the input image, explanation 2 of 3');
  await page.keyboard.press('ArrowLeft');
  assert.equal(await read<string>(`document.getElementById('explanation-status').textContent`), 'Showing the gradcam heatmap for class Neutral (98.0%, the predicted class) over the input image, explanation 1 of 3');
  await page.keyboard.press('/');
  assert.equal((await focused()).name, 'comment');
  await page.keyboard.press('Escape');
  assert.equal((await focused()).name, 'verdicts');
  await sleep(lookMs);
  await page.keyboard.press('1');
  await stack.shows('a11y-b');
  await page.locator('#banner-text', { hasText: 'Saved “Supports” for a11y-a' }).waitFor();
  await page.getByRole('button', { name: /^Undo “Supports”/ }).waitFor();
  await audit(t, 'verdict kept, Undo offered, the next item shown');
  await page.keyboard.press('u');
  await stack.shows('a11y-a');
  await page.locator('#banner-text', { hasText: 'Took back' }).waitFor();
  assert.deepEqual(stack.pageErrors, []);
});

test('nothing pending, and an error said in the banner, have no serious or critical violation', async (t) => {
  const page = stack.page;
  await sleep(lookMs);
  await page.keyboard.press('2');
  await stack.shows('a11y-b');
  await sleep(lookMs);
  await page.keyboard.press('s');
  await page.getByRole('heading', { name: 'Nothing to review right now.' }).waitFor();
  await page.locator('#banner-text', { hasText: 'Skipped a11y-b' }).waitFor();
  await audit(t, 'nothing pending');
  // The service refuses a filter past 64 characters (the field stops at 64: set from a script).
  await page.evaluate(`document.getElementById('model-filter').value = 'm'.repeat(65)`);
  await page.getByLabel('Model', { exact: true }).press('Enter');
  await page.locator('#banner.banner-error', { hasText: 'REQUEST_INVALID' }).waitFor();
  await page.getByRole('heading', { name: 'Could not load an item.' }).waitFor();
  // R (Try again) works here, and U (the Undo of a11y-a's verdict is still offered): the switch that turns them off, and the keys, are in the footer.
  assert.ok(await page.getByRole('checkbox', { name: 'Shortcut keys' }).isVisible(), 'the Shortcut keys switch is shown where R works');
  assert.deepEqual(await footerKeys(), ['U undo', 'R try again'], 'the footer lists the keys that work on the error screen, R by the name of its button');
  await audit(t, 'error in the banner');
  assert.deepEqual(stack.pageErrors, []);
});

test('the lease is a time limit the reviewer can extend: in its last minute the page says so, and E (More time) renews it', async (t) => {
  // A 70 s lease: its last minute comes 10 s after the item is shown.
  const short = await startPageStack({ leaseMs: 70_000 });
  try {
    await short.seed('a11y-lease');
    await short.signIn('a11y-lease');
    const page = short.page;
    const moreTime = page.getByRole('button', { name: /^More time/ });
    await moreTime.waitFor({ timeout: 15_000 });
    assert.match((await page.locator('#banner-text').textContent()) ?? '', /^The lease on a11y-lease runs out in \d+ s: press E \(More time\) to keep it/);
    assert.equal(await moreTime.getAttribute('aria-keyshortcuts'), 'E');
    await audit(t, 'the lease runs out soon, More time offered', page);
    // E works now, R (no Load again offered) does not: the footer says so.
    assert.ok((await footerKeys(page)).includes('E more time'), 'E listed while More time is offered');
    assert.ok(!(await footerKeys(page)).includes('R load again'), 'R not listed while Load again is not offered');
    const before = (await short.pool.get('a11y-lease'))?.leaseExpiresAt ?? 0;
    const renewals = short.posts('/renew');
    await page.evaluate('document.activeElement.blur()');
    await page.keyboard.press('e');
    await page.locator('#banner-text', { hasText: /^More time on a11y-lease: its lease was renewed \(1:[01]\d left\)\.$/ }).waitFor();
    renewals.stop();
    assert.deepEqual(renewals.ids, ['a11y-lease']);
    assert.ok(((await short.pool.get('a11y-lease'))?.leaseExpiresAt ?? 0) > before, 'the service renewed the lease');
    assert.ok(!(await moreTime.isVisible()), 'More time is offered again only in the last minute of the new lease');
    assert.ok(!(await footerKeys(page)).includes('E more time'), 'nor is E listed in the footer');
    assert.match((await page.locator('#lease').textContent()) ?? '', /^1:[01]\d left$/);
    assert.deepEqual(short.pageErrors, []);
  } finally {
    await short.close();
  }
});

test('images that did not load: no serious or critical violation; the failure is said, and Load again (R) is a control a keyboard or mouse user reaches', async (t) => {
  const own = await startPageStack();
  try {
    await own.seed('a11y-gone', { sampling: { sampled: true, policy: 'p', reason: 'r', priority: 0.9 } });
    const page = own.page;
    // The input is removed from the store after the service checked it: its link answers an error.
    const gone = own.removeOnLease('a11y-gone', ['input.jpg']);
    await page.goto(own.url);
    await page.evaluate(`localStorage.setItem('gradcam-review.token', ${JSON.stringify(reviewerToken)})`);
    await page.reload();
    await gone.removed();
    await page.locator('#input-error', { hasText: 'Could not load the input image.' }).waitFor();
    await page.locator('#banner-text', { hasText: /^Could not load the input image of a11y-gone: no verdict can be sent/ }).waitFor();
    await audit(t, 'an image that did not load', page);
    assert.equal(await page.locator('#input-error').getAttribute('role'), 'alert');
    // The message says the image failed; its alt text, still "Input image of a11y-gone, …", told a screen reader that the image was there.
    assert.equal(await page.getByRole('img', { name: /^Input image of/ }).count(), 0, 'no image in the accessibility tree in place of the one that failed');
    // The way on, for a mouse and for Tab as for the R key: a button beside the message.
    const loadAgain = page.getByRole('button', { name: /^Load again/ });
    assert.ok(await loadAgain.isVisible(), 'Load again offered while an image failed');
    assert.ok((await footerKeys(page)).includes('R load again'), 'R listed in the footer while Load again is offered');
    assert.equal(await loadAgain.getAttribute('aria-keyshortcuts'), 'R');
    await gone.restore();
    await loadAgain.focus();
    await page.keyboard.press('Enter');
    await own.shows('a11y-gone', page);
    assert.ok(!(await page.locator('#input-error').isVisible()));
    assert.equal(await page.getByRole('img', { name: /^Input image of a11y-gone/ }).count(), 1, 'the image loaded is there again');
    assert.ok(!(await loadAgain.isVisible()), 'Load again goes with the failure');
    assert.ok(!(await footerKeys(page)).includes('R load again'), 'and R from the footer');
    assert.equal(await page.evaluate<string>('document.activeElement.id'), 'verdicts', 'the focus goes on to the verdicts, not the body');
    assert.deepEqual(own.pageErrors, []);
  } finally {
    await own.close();
  }
});

test('the lease ran out: no serious or critical violation; said in the live region, and the focus on a verdict disabled by it goes to Load again', async (t) => {
  const short = await startPageStack({ leaseMs: 10_000 });
  try {
    await short.seed('a11y-lapse');
    await short.signIn('a11y-lapse');
    const page = short.page;
    // A keyboard user on a verdict when the lease runs out: the button goes off under the focus.
    await page.getByRole('button', { name: /Supports/ }).focus();
    assert.equal(await page.evaluate<string>('document.activeElement.dataset.verdict'), 'supports', 'on the verdict while the lease runs');
    const loadAgain = page.getByRole('button', { name: /^Load again/ });
    await loadAgain.waitFor({ timeout: 20_000 });
    await page.locator('#banner-text', { hasText: /^The lease on a11y-lapse ran out: a verdict would be refused/ }).waitFor();
    await audit(t, 'the lease ran out, Load again offered', page);
    const listed = await footerKeys(page);
    assert.ok(listed.includes('R load again') && !listed.includes('E more time'), `the footer lists R, not E, once the lease ran out: ${listed.join(', ')}`);
    assert.equal(await page.locator('#banner-text').getAttribute('role'), 'status');
    assert.equal(await page.evaluate<string>('document.activeElement.id'), 'load-again', 'the focus is on the way on, not lost on a disabled button or the body');
    await page.keyboard.press('Enter');
    // The same id is shown before and after, so shows() can return on the lapsed render while the
    // new lease is on its way (seen on a loaded machine): the verdicts coming on tells the new one.
    const supports = page.getByRole('button', { name: /Supports/ });
    await waitFor('the verdicts on again under the new lease', async () => ((await supports.isEnabled()) ? true : undefined), 20_000, 50);
    await short.shows('a11y-lapse', page);
    assert.equal(await page.evaluate<string>('document.activeElement.id'), 'verdicts');
    assert.deepEqual(short.pageErrors, []);
  } finally {
    await short.close();
  }
});

test('keyboard only, an image gone for good: Tab reaches Load again; the item is set aside, and Enter on Next item shows the next with the focus on its verdicts', async (t) => {
  const own = await startPageStack();
  try {
    await own.seed('a11y-lost', { sampling: { sampled: true, policy: 'p', reason: 'r', priority: 0.9 } });
    await own.seed('a11y-after', { sampling: { sampled: true, policy: 'p', reason: 'r', priority: 0.1 } });
    const page = own.page;
    const gone = own.removeOnLease('a11y-lost', ['gradcam-2.overlay.jpg', 'input.jpg']);
    await page.goto(own.url);
    await page.evaluate(`localStorage.setItem('gradcam-review.token', ${JSON.stringify(reviewerToken)})`);
    await page.reload();
    await gone.removed();
    await page.locator('#overlay-error', { hasText: /^Could not load the gradcam heatmap of / }).waitFor();
    // Fresh from a load, by Tab alone: the header's controls, then the way on.
    const order: string[] = [];
    for (let i = 0; i < 6 && !order.includes('load-again'); i++) {
      await page.keyboard.press('Tab');
      order.push((await focused(page)).name);
    }
    assert.deepEqual(order, ['Skip to the verdict', 'model-filter', 'Apply', 'sign-out', 'load-again']);
    const ring = await focused(page);
    assert.ok(ring.indicator !== 'none' && (ring.ringContrast === null || ring.ringContrast >= 3), `Load again's focus ring: ${JSON.stringify(ring)}`);
    await page.keyboard.press('Enter');
    // The files are still gone: the service sets the item aside, and the page says so.
    await page.getByRole('heading', { name: 'That item could not be shown.' }).waitFor();
    assert.equal((await focused(page)).name, 'idle-action');
    assert.deepEqual(await footerKeys(page), ['R next item'], 'the footer lists the keys that work where the item was set aside, R by the name of its button');
    await page.keyboard.press('Tab');
    assert.equal((await focused(page)).name, 'shortcut-keys', 'Tab reaches the Shortcut keys switch after Next item');
    await page.keyboard.press('Shift+Tab');
    await audit(t, 'an item set aside, the next one offered', page);
    await page.keyboard.press('Enter');
    await own.shows('a11y-after', page);
    assert.equal((await focused(page)).name, 'verdicts');
    assert.equal((await own.pool.get('a11y-lost'))?.status, 'broken');
    assert.deepEqual(own.pageErrors, []);
  } finally {
    await own.close();
  }
});

test('single-key shortcuts can be turned off (WCAG 2.1.4): the keys then do nothing, no control declares or shows one, the footer says so; remembered over a reload, and turned on again', async (t) => {
  const own = await startPageStack();
  try {
    await own.seed('a11y-keys', { label: 'Neutral', probability: 0.98 }, twoOfEach);
    const page = own.page;
    await own.signIn('a11y-keys');
    const declared = () =>
      page.evaluate<Record<string, string>>(
        `Object.fromEntries([...document.querySelectorAll('[aria-keyshortcuts]')].map((e) => [e.id || e.dataset.verdict || e.getAttribute('aria-labelledby') || e.className, e.getAttribute('aria-keyshortcuts')]))`,
      );
    const keysOn = await declared();
    assert.equal(keysOn.supports, '1', 'on by default, as reviewers work by them');
    const opacity = () => page.evaluate<string>(`document.getElementById('opacity-value').textContent`);
    const onVerdicts = () => page.evaluate(`document.getElementById('verdicts').focus()`);

    // Turned off by keyboard: the switch is a native checkbox in the footer, Tab reaches it after Skip.
    const shortcutSwitch = page.getByRole('checkbox', { name: 'Shortcut keys' });
    assert.ok(await shortcutSwitch.isChecked());
    await page.getByRole('button', { name: /Skip/ }).focus();
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate<string>('document.activeElement.id'), 'shortcut-keys');
    await page.keyboard.press('Space');
    assert.ok(!(await shortcutSwitch.isChecked()));
    assert.equal(await page.evaluate<string | null>(`localStorage.getItem('gradcam-review.shortcuts')`), 'off');

    const offState = async (when: string) => {
      // Only the viewer's arrows (not character keys, and still working) are declared.
      assert.deepEqual(await declared(), { viewer: 'ArrowLeft ArrowRight' }, `${when}: no control declares a key that does nothing`);
      assert.ok(await page.locator('#shortcuts-off').isVisible(), `${when}: the footer says they are off`);
      assert.match((await page.locator('#shortcuts-off').textContent()) ?? '', /tick Shortcut keys to turn them on/);
      const listed = await page.locator('footer.keys > span:visible').allTextContents();
      assert.deepEqual(listed.map((text) => text.replace(/\s+/g, ' ').trim()), [(await page.locator('#shortcuts-off').textContent()) ?? '', '←→ explanation'], `${when}: the footer lists no key that does nothing`);
      // Nor do the controls show one, in their text or in their names.
      await page.getByRole('button', { name: 'Supports evidence fits', exact: true }).waitFor();
      assert.equal(await page.locator('main kbd:visible').count(), 0, `${when}: no key shown on a control`);
      assert.equal(await page.locator('#comment').getAttribute('aria-describedby'), null, `${when}: the comment's hint about keys is not its description`);
      // Every key of the item view, pressed with the focus on the verdicts: nothing happens.
      await sleep(lookMs);
      await onVerdicts();
      for (const key of ['1', '2', 'Shift+3', 's', 'S', 'u', 'm', 'c', ']', '[', 'e', 'r']) await page.keyboard.press(key);
      await page.keyboard.press('/');
      assert.equal(await page.evaluate<string>('document.activeElement.id'), 'verdicts', `${when}: / does not go to the comment`);
      assert.equal(await opacity(), '70%', `${when}: [ ] leave the opacity`);
      assert.equal(await page.getByRole('button', { name: 'gradcam' }).getAttribute('aria-pressed'), 'true', `${when}: M leaves the method`);
      assert.equal(await page.getByRole('button', { name: /^Neutral/ }).getAttribute('aria-pressed'), 'true', `${when}: C leaves the class`);
      assert.equal(await page.locator('.verdict.is-sending, .verdict.is-picked, #skip.is-sending').count(), 0, `${when}: no verdict or skip on its way or picked`);
      assert.equal(await page.locator('#details code').textContent(), 'a11y-keys');
      assert.equal(await page.locator('#banner-text').textContent(), '');
      // The arrows are no character key: they still switch the explanation.
      await page.keyboard.press('ArrowRight');
      assert.match(await page.evaluate<string>(`document.getElementById('explanation-status').textContent`), /, explanation 2 of 3$/, `${when}: the arrows still work`);
      await page.keyboard.press('ArrowLeft');
    };
    const verdicts = own.posts('');
    const skips = own.posts('/skip');
    await offState('turned off');
    await audit(t, 'shortcut keys turned off', page);

    // Remembered in this browser: a reload comes back with them off.
    await page.reload();
    await own.shows('a11y-keys');
    assert.ok(!(await shortcutSwitch.isChecked()), 'still off after a reload');
    await offState('after a reload');
    verdicts.stop();
    skips.stop();
    assert.deepEqual([verdicts.ids, skips.ids], [[], []], 'the page sent no verdict and no skip');
    const item = (await own.api('GET', '/v1/reviews?status=reviewed&limit=10')).body as { items: unknown[] };
    assert.deepEqual(item.items, [], 'the service holds no verdict');
    assert.equal((await own.pool.get('a11y-keys'))?.status, 'leased');

    // Turned on again: every key is declared again, the footer lists them, and they work.
    await shortcutSwitch.check();
    assert.equal(await page.evaluate<string | null>(`localStorage.getItem('gradcam-review.shortcuts')`), null);
    assert.deepEqual(await declared(), keysOn, 'the controls declare their keys again');
    assert.ok(!(await page.locator('#shortcuts-off').isVisible()));
    assert.equal(await page.locator('#comment').getAttribute('aria-describedby'), 'comment-hint');
    await audit(t, 'shortcut keys turned on again', page);
    await sleep(lookMs);
    await onVerdicts();
    await page.keyboard.press(']');
    assert.equal(await opacity(), '80%');
    await page.keyboard.press('1');
    await page.locator('#banner-text', { hasText: 'Saved “Supports” for a11y-keys' }).waitFor();
    assert.equal((await own.pool.get('a11y-keys'))?.status, 'reviewed');
    assert.deepEqual(own.pageErrors, []);
  } finally {
    await own.close();
  }
});

test('with the shortcut keys turned off, what the page says names the buttons, not keys that do nothing', async (t) => {
  const own = await startPageStack();
  try {
    await own.seed('a11y-keys-gone');
    const page = own.page;
    const gone = own.removeOnLease('a11y-keys-gone', ['input.jpg']);
    await page.goto(own.url);
    await page.evaluate(`localStorage.setItem('gradcam-review.token', ${JSON.stringify(reviewerToken)}); localStorage.setItem('gradcam-review.shortcuts', 'off')`);
    await page.reload();
    await gone.removed();
    await page.locator('#input-error', { hasText: 'Could not load the input image.' }).waitFor();
    const bannerSaid = (await page.locator('#banner-text').textContent()) ?? '';
    const stageSaid = (await page.locator('#input-error').textContent()) ?? '';
    assert.match(bannerSaid, /no verdict can be sent on evidence you cannot see\. Load again loads the item again; Skip skips it\.$/);
    assert.match(stageSaid, /No verdict can be sent: Load again loads the item again, Skip skips it\.$/);
    for (const text of [bannerSaid, stageSaid]) assert.doesNotMatch(text, /\b[RS]\b/, `no key named: ${text}`);
    assert.equal(await page.getByRole('button', { name: 'Load again', exact: true }).getAttribute('aria-keyshortcuts'), null);
    await audit(t, 'an image that did not load, shortcut keys off', page);
    assert.deepEqual(own.pageErrors, []);
  } finally {
    await own.close();
  }
});

test('nothing to review: Tab reaches the Shortcut keys switch there, the footer lists only the keys that work there, and turned off there R and U do nothing and no control declares them', async (t) => {
  const own = await startPageStack();
  try {
    await own.seed('a11y-idle-keys');
    const page = own.page;
    await own.signIn('a11y-idle-keys');
    await sleep(lookMs);
    await page.evaluate(`document.getElementById('verdicts').focus()`);
    await page.keyboard.press('1');
    await page.getByRole('heading', { name: 'Nothing to review right now.' }).waitFor();
    const undoButton = page.getByRole('button', { name: /^Undo “Supports”/ });
    await undoButton.waitFor();
    // From Refresh, as after pressing it.
    await page.locator('#idle-action').focus();
    // The keys the controls shown declare: Undo's U (while it is offered) and Refresh's R, nothing of the item view.
    const declared = () =>
      page.evaluate<string[]>(`[...document.querySelectorAll('[aria-keyshortcuts]')].filter((e) => e.getClientRects().length > 0).map((e) => e.id + ' ' + e.getAttribute('aria-keyshortcuts'))`);
    assert.deepEqual(await declared(), ['undo U', 'idle-action R']);
    assert.deepEqual(await footerKeys(page), ['U undo', 'R refresh'], 'the footer lists the keys that work here, and only them, R by the name of its button');

    // Reached by Tab from Refresh, with a visible focus ring; Space turns the keys off.
    await page.keyboard.press('Tab');
    const ring = await focused(page);
    assert.equal(ring.name, 'shortcut-keys', 'Tab reaches the Shortcut keys switch');
    assert.ok(ring.indicator !== 'none' && (ring.ringContrast === null || ring.ringContrast >= 3), `the switch's focus ring: ${JSON.stringify(ring)}`);
    await audit(t, 'nothing to review, shortcut keys on', page);
    await page.keyboard.press('Space');
    const shortcutSwitch = page.getByRole('checkbox', { name: 'Shortcut keys' });
    assert.ok(!(await shortcutSwitch.isChecked()));
    assert.equal(await page.evaluate<string | null>(`localStorage.getItem('gradcam-review.shortcuts')`), 'off');
    assert.deepEqual(await declared(), [], 'no control declares a key that does nothing');
    assert.deepEqual(await footerKeys(page), [((await page.locator('#shortcuts-off').textContent()) ?? '').trim()], 'the footer says the keys are off, and lists none');
    assert.equal(await page.locator(':is(main, #banner) kbd:visible').count(), 0, 'no key shown on Refresh or Undo');
    await audit(t, 'nothing to review, shortcut keys off', page);

    // R and U, pressed on Refresh (a button: with the keys on, both would act there), do nothing.
    const asked: string[] = [];
    const onRequest = (request: Request) => {
      const path = new URL(request.url()).pathname;
      if (path === '/v1/reviews/next' || path.endsWith('/undo')) asked.push(`${request.method()} ${path}`);
    };
    page.on('request', onRequest);
    await page.keyboard.press('Shift+Tab');
    assert.equal((await focused(page)).name, 'idle-action');
    for (const key of ['r', 'R', 'u', 'U']) await page.keyboard.press(key);
    // Either key's action changes the page at once, before any answer: R shows "Loading", U disables Undo.
    assert.equal(await page.evaluate<string>('document.body.dataset.view'), 'idle', 'R loaded nothing');
    assert.ok(await undoButton.isEnabled(), 'U sent no undo');
    assert.equal((await own.api('GET', '/v1/reviews/backlog')).status, 200);
    page.off('request', onRequest);
    assert.deepEqual(asked, [], 'the page asked for no item and sent no undo');
    assert.equal((await own.pool.get('a11y-idle-keys'))?.status, 'reviewed', 'the verdict stands');

    // Turned on again, there: both are declared and listed again, and U takes the verdict back.
    await page.keyboard.press('Tab');
    await page.keyboard.press('Space');
    assert.ok(await shortcutSwitch.isChecked());
    assert.deepEqual(await declared(), ['undo U', 'idle-action R']);
    assert.deepEqual(await footerKeys(page), ['U undo', 'R refresh']);
    await page.keyboard.press('Shift+Tab');
    await page.keyboard.press('u');
    await own.shows('a11y-idle-keys');
    await page.locator('#banner-text', { hasText: 'Took back “Supports” on a11y-idle-keys' }).waitFor();
    assert.deepEqual(own.pageErrors, []);
  } finally {
    await own.close();
  }
});
