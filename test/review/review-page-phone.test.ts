import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { type PageStack, startPageStack } from './page-stack.ts';

// A phone (390 px wide): the two images side by side were about 170 px each, and Prediction and the
// verdicts came after Details, so a touch user scrolled past the details for every item. Under
// 600 px the images stack at full width and Prediction and the verdicts come before Details.

let stack: PageStack;

before(async () => {
  stack = await startPageStack();
  await stack.seed('phone-item');
});

after(async () => {
  await stack?.close();
});

test('at 390 px the images are full width, one above the other; the controls, Prediction and the verdicts come before Details; nothing scrolls sideways', async () => {
  const context = await stack.browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 1, locale: 'en-US', timezoneId: 'UTC', reducedMotion: 'reduce', hasTouch: true });
  // Its own context: stack.pageErrors hears only the stack's.
  const pageErrors: string[] = [];
  try {
    const page = await context.newPage();
    page.on('pageerror', (error) => pageErrors.push(error.message));
    page.setDefaultTimeout(10_000);
    await stack.signIn('phone-item', page);
    type Box = { top: number; bottom: number; left: number; width: number };
    type Boxes = { input: Box; overlay: Box; controls: Box; prediction: Box; verdicts: Box; details: Box; main: Box };
    const layout = await page.evaluate<{ scrollWidth: number; innerWidth: number; boxes: Boxes }>(`(() => {
      const box = (selector) => { const r = document.querySelector(selector).getBoundingClientRect(); return { top: r.top, bottom: r.bottom, left: r.left, width: r.width }; };
      return {
        scrollWidth: document.documentElement.scrollWidth,
        innerWidth: window.innerWidth,
        boxes: { input: box('#input-stage'), overlay: box('#overlay-stage'), controls: box('.controls'), prediction: box('#prediction-title'), verdicts: box('#verdicts'), details: box('#details-title'), main: box('main') },
      };
    })()`);
    const { input, overlay, controls, prediction, verdicts, details, main } = layout.boxes;
    assert.ok(layout.scrollWidth <= layout.innerWidth, `the page is ${layout.scrollWidth} px wide in a ${layout.innerWidth} px window`);
    // Full width: the main column less its padding (1.25rem a side).
    assert.ok(input.width >= main.width - 45 && overlay.width >= main.width - 45, `images ${input.width} and ${overlay.width} px wide in a ${main.width} px column`);
    assert.ok(overlay.top >= input.bottom, 'the heatmap is under the input image');
    // Reading order down the page, which is also the order Tab takes (the controls before the verdicts).
    assert.ok(overlay.bottom <= controls.top, 'the controls under the images');
    assert.ok(controls.bottom <= prediction.top, 'Prediction under the controls');
    assert.ok(prediction.top < verdicts.top, 'the verdicts under Prediction');
    assert.ok(verdicts.bottom <= details.top, `Details after the verdicts (verdicts end at ${verdicts.bottom}, Details at ${details.top})`);
    // The viewer, laid out as part of the page's column, is still the region a screen reader names (its arrows with it).
    assert.equal(await page.getByRole('region', { name: 'Image and explanation' }).count(), 1);
  } finally {
    await context.close();
  }
  assert.deepEqual(pageErrors, []);
});
