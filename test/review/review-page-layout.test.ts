import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { type Manifest, type PageStack, startPageStack } from './page-stack.ts';

// The page's layout and what assistive technology is told: a long class label from the model
// must not widen the page or cover the verdict buttons; the message line is a live region that
// is always rendered; controls have names, values and outlines that can be read.

let stack: PageStack;
/** No space to break at: the worst case for the layout. */
const longLabel = 'pneumothorax_left_upper_lobe_with_subcutaneous_emphysema_and_a_much_longer_qualifier_that_no_sane_model_would_ship_v2_final';

before(async () => {
  stack = await startPageStack();
  await stack.seed('layout-long', { label: longLabel }, (manifest) => {
    const predicted = manifest.prediction.classIndex;
    manifest.model.labels[predicted] = longLabel;
    for (const entry of manifest.explanations) if (entry.classIndex === predicted) entry.label = longLabel;
  });
});

after(async () => {
  await stack?.close();
});

test('before any message the live region is rendered (an empty banner takes no room)', async () => {
  await stack.page.goto(stack.url);
  await stack.page.getByLabel('Reviewer token').waitFor();
  const region = await stack.page.evaluate<{ rendered: boolean; role: string | null; height: number }>(
    `(() => { const text = document.getElementById('banner-text'); return { rendered: text.checkVisibility(), role: text.getAttribute('role'), height: document.getElementById('banner').getBoundingClientRect().height }; })()`,
  );
  assert.deepEqual(region, { rendered: true, role: 'status', height: 0 });
});

test(`a ${longLabel.length}-character class label: no horizontal scroll, and every verdict button and Skip can be clicked`, async () => {
  await stack.signIn('layout-long');
  assert.equal((await stack.page.locator('#prediction-label').textContent())?.trim(), longLabel);
  const layout = await stack.page.evaluate<{ scrollWidth: number; innerWidth: number; hits: string[] }>(`(() => ({
    scrollWidth: document.documentElement.scrollWidth,
    innerWidth: window.innerWidth,
    hits: [...document.querySelectorAll('button.verdict, #skip')].map((button) => {
      const box = button.getBoundingClientRect();
      const hit = document.elementFromPoint(box.left + box.width / 2, box.top + box.height / 2);
      return (button.dataset.verdict ?? button.id) + ':' + (button.contains(hit) ? 'clickable' : hit?.id || hit?.className || hit?.tagName);
    }),
  }))()`);
  assert.ok(layout.scrollWidth <= layout.innerWidth, `the page is ${layout.scrollWidth} px wide in a ${layout.innerWidth} px window`);
  assert.deepEqual(layout.hits, ['supports:clickable', 'wrong-evidence:clickable', 'wrong-prediction:clickable', 'unsure:clickable', 'skip:clickable']);
});

/** WCAG contrast ratio of two `rgb(…)` colours. */
function contrast(a: string, b: string): number {
  const luminance = (css: string) => {
    const [r, g, b] = (css.match(/\d+(\.\d+)?/g) ?? []).slice(0, 3).map((c) => {
      const v = Number(c) / 255;
      return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
    }) as [number, number, number];
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x) as [number, number];
  return (hi + 0.05) / (lo + 0.05);
}

test('names, values and outlines: "label score" tabs, the slider says its percent, fields outlined at 3:1, the selected score at 4.5:1, the filter capped', async () => {
  const page = stack.page;
  const tab = page.locator('#classes button[aria-pressed="true"]');
  const score = (await tab.locator('.tab-score').textContent()) ?? '';
  assert.match(score, /^\d+%$/);
  assert.equal(await page.getByRole('button', { name: `${longLabel} ${score}`, exact: true }).count(), 1, 'the class tab is named "label score"');
  const slider = page.getByLabel('Overlay opacity');
  assert.equal(await slider.getAttribute('aria-valuetext'), '70%');
  await slider.focus();
  await page.keyboard.press('ArrowLeft');
  assert.equal(await slider.getAttribute('aria-valuetext'), '65%');

  const colours = await page.evaluate<{ scoreColour: string; scoreOpacity: string; tabBackground: string; commentBorder: string; buttonBorder: string; card: string }>(`(() => {
    const score = getComputedStyle(document.querySelector('#classes button[aria-pressed="true"] .tab-score'));
    return {
      scoreColour: score.color,
      scoreOpacity: score.opacity,
      tabBackground: getComputedStyle(document.querySelector('#classes button[aria-pressed="true"]')).backgroundColor,
      commentBorder: getComputedStyle(document.getElementById('comment')).borderTopColor,
      buttonBorder: getComputedStyle(document.querySelector('button.verdict')).borderTopColor,
      card: getComputedStyle(document.getElementById('verdicts')).backgroundColor,
    };
  })()`);
  assert.equal(colours.scoreOpacity, '1', 'the selected tab\'s score is not faded');
  assert.ok(contrast(colours.scoreColour, colours.tabBackground) >= 4.5, `selected score ${contrast(colours.scoreColour, colours.tabBackground).toFixed(2)}:1`);
  for (const [what, border] of [['comment field', colours.commentBorder], ['verdict button', colours.buttonBorder]] as const) {
    assert.ok(contrast(border, colours.card) >= 3, `${what} outline ${contrast(border, colours.card).toFixed(2)}:1`);
  }

  const filter = page.getByLabel('Model', { exact: true });
  await filter.fill('m'.repeat(70));
  assert.equal((await filter.inputValue()).length, 64, 'the service refuses a longer model name');
  assert.deepEqual(stack.pageErrors, []);
});

test('on a 320 px screen (a phone, or 1280 px at 400% zoom) the header wraps: no horizontal scroll, the filter and Change token on screen', async () => {
  const page = stack.page;
  await page.setViewportSize({ width: 320, height: 640 });
  try {
    await stack.signIn('layout-long');
    const layout = await page.evaluate<{ scrollWidth: number; offscreen: string[] }>(`(() => ({
      scrollWidth: document.documentElement.scrollWidth,
      offscreen: ['model-filter', 'sign-out', 'reviewer', 'backlog']
        .map((id) => document.getElementById(id))
        .concat([document.querySelector('#filter-form button')])
        .filter((node) => { const box = node.getBoundingClientRect(); return box.left < 0 || box.right > window.innerWidth; })
        .map((node) => node.id || node.textContent),
    }))()`);
    assert.deepEqual(layout, { scrollWidth: 320, offscreen: [] });
  } finally {
    await page.setViewportSize({ width: 1280, height: 800 });
  }
});

test('a class tab never rounds a score to 100% or 0% that is not: 99.7% is ">99%" and 0.2% "<1%", beside the exact figures of the top scores', async () => {
  // The long-label item is judged (through the API), so that the next lease hands out this one.
  assert.equal((await stack.api('GET', '/v1/reviews/next')).status, 200);
  assert.equal((await stack.api('POST', '/v1/reviews/layout-long', { verdict: 'supports' })).status, 200);
  await stack.seed('layout-rounding', { probability: 0.997 }, (manifest) => {
    // The fields the page shows that the Manifest of the page stack does not name.
    const m = manifest as unknown as Omit<Manifest, 'prediction' | 'explanations'> & { prediction: { probabilities: number[] }; explanations: (Manifest['explanations'][number] & { probability: number })[] };
    m.prediction.probabilities = [0.002, 0.001, 0.997, 0, 0];
    const predicted = m.explanations[0]!;
    predicted.probability = 0.997;
    m.explanations.push({ ...structuredClone(predicted), classIndex: 0, label: 'Drawing', probability: 0.002, overlay: { ...predicted.overlay, path: 'gradcam-0.overlay.jpg' }, rawMap: { ...predicted.rawMap, path: 'gradcam-0.npy' } });
  });
  await stack.signIn('layout-rounding');
  const tabs = await stack.page.locator('#classes button').allTextContents();
  assert.deepEqual(tabs, ['Neutral >99%', 'Drawing <1%']);
  assert.equal(await stack.page.locator('#prediction-probability').textContent(), '99.7%');
  assert.deepEqual(stack.pageErrors, []);
});
