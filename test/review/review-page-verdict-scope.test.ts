import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, test } from 'node:test';
import { type Manifest, type PageStack, startPageStack } from './page-stack.ts';

// A verdict is kept against the item's prediction (its predicted class: the pool item, review.json
// and the verdict metrics' `class`); the heatmap on screen is recorded beside it (`shown`), not in
// its place (review-page-shown.test.ts). While
// another class's heatmap is shown, the question must say that the verdict is on the prediction,
// not ask "Does the heatmap support the prediction?" beside a heatmap of another class.

let stack: PageStack;

/** The predicted class's gradcam (Neutral) and a layercam heatmap of another class, Drawing. */
const otherClass = (manifest: Manifest) => {
  const first = manifest.explanations[0];
  if (!first) return;
  manifest.explanations.push({
    ...structuredClone(first),
    method: 'layercam',
    classIndex: 0,
    label: 'Drawing',
    probability: 0.005,
    overlay: { ...first.overlay, path: 'layercam-0.overlay.jpg' },
    rawMap: { ...first.rawMap, path: 'layercam-0.npy' },
  } as typeof first);
};

before(async () => {
  stack = await startPageStack();
  await stack.seed('scope-other', { predictedClass: 2, label: 'Neutral' }, otherClass);
  await stack.signIn('scope-other');
});

after(async () => {
  await stack?.close();
});

test('while another class\'s heatmap is shown, the verdict question names the prediction and says the verdict is on it, not on the heatmap shown', async () => {
  const page = stack.page;
  const title = page.locator('#verdict-title');
  const scope = page.locator('#verdict-scope');
  assert.equal(await title.textContent(), 'Does the heatmap support the prediction?');
  assert.equal(await scope.isVisible(), false, 'no note while the predicted class is shown');

  // The viewer's arrows go from one explanation to the next (the verdicts hold the focus, as after an item is shown).
  await page.locator('#verdicts').focus();
  await page.keyboard.press('ArrowRight');
  await page.locator('#overlay-meta', { hasText: 'layercam · Drawing' }).waitFor();
  assert.equal(await title.textContent(), 'Does the evidence support the prediction, Neutral?');
  assert.ok(await scope.isVisible(), 'the note is shown');
  assert.equal(await scope.textContent(), 'The heatmap shown is layercam for Drawing, not the predicted class: your verdict is recorded on the prediction, Neutral, with this heatmap noted as the one shown.');
  // Heard with the verdicts, and with the switch a key makes.
  assert.equal(await page.locator('#verdicts').getAttribute('aria-describedby'), 'verdict-scope');
  assert.match((await page.locator('#explanation-status').textContent()) ?? '', /Drawing.*your verdict is recorded on the prediction, Neutral, with this heatmap noted as the one shown\.$/);
  await page.keyboard.press('ArrowLeft');
  await page.locator('#overlay-meta', { hasText: 'gradcam · Neutral' }).waitFor();
  assert.equal(await title.textContent(), 'Does the heatmap support the prediction?');
  assert.equal(await scope.isVisible(), false);
  assert.equal(await page.locator('#verdicts').getAttribute('aria-describedby'), null);
  await page.keyboard.press('ArrowRight');
  await page.locator('#overlay-meta', { hasText: 'layercam · Drawing' }).waitFor();

  // Judged with Drawing's heatmap on screen: the verdict is kept on the item's prediction, Neutral.
  await sleep(500); // no verdict is taken in the first 400 ms an item is shown
  await page.keyboard.press('2');
  await page.getByRole('heading', { name: 'Nothing to review' }).waitFor();
  const listed = (await stack.api('GET', '/v1/reviews?status=reviewed')).body as { items: { inferenceId: string; label: string; predictedClass: number; verdict: string }[] };
  const kept = listed.items.find((item) => item.inferenceId === 'scope-other');
  assert.deepEqual(kept && { label: kept.label, predictedClass: kept.predictedClass, verdict: kept.verdict }, { label: 'Neutral', predictedClass: 2, verdict: 'wrong-evidence' });
  assert.deepEqual(stack.pageErrors, []);
});
