import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, test } from 'node:test';
import { type PageStack, startPageStack } from './page-stack.ts';

// One key press or one double-click decides one item: a key held down (its repeats), a second
// click, or a key pressed again at once, must not judge or skip the items shown after the first.

let stack: PageStack;
const ids = Array.from({ length: 8 }, (_, i) => `input-${i}`);
/** Longer than the page's guard after an item is shown (400 ms): a deliberate next input. */
const lookMs = 600;

before(async () => {
  stack = await startPageStack();
  // Highest priority first: input-0, input-1, …
  for (const [i, id] of ids.entries()) await stack.seed(id, { sampling: { sampled: true, policy: 'p', reason: 'r', priority: 0.9 - i * 0.05 } });
  await stack.signIn('input-0');
});

after(async () => {
  await stack?.close();
});

/** Holds `key` down for `ms`, the way the system repeats it (every 33 ms, `repeat` set after the first). */
async function hold(key: string, ms: number): Promise<void> {
  for (let t = 0; t < ms; t += 33) {
    await stack.page.keyboard.down(key);
    await sleep(33);
  }
  await stack.page.keyboard.up(key);
}

test('holding 1 down for 1.5 s sends one verdict, on the item shown when it went down', async () => {
  await sleep(lookMs);
  const verdicts = stack.posts('');
  await hold('1', 1_500);
  await stack.shows('input-1');
  await sleep(500);
  verdicts.stop();
  assert.deepEqual(verdicts.ids, ['input-0']);
  const reviewed = (await stack.api('GET', '/v1/reviews?status=reviewed')).body as { items: { inferenceId: string }[] };
  assert.deepEqual(reviewed.items.map((i) => i.inferenceId), ['input-0']);
});

test('holding S down skips one item', async () => {
  await sleep(lookMs);
  const skips = stack.posts('/skip');
  await hold('s', 1_000);
  await stack.shows('input-2');
  await sleep(500);
  skips.stop();
  assert.deepEqual(skips.ids, ['input-1']);
});

test('two clicks 150 ms apart on a verdict button, or a double-click, judge one item', async () => {
  await sleep(lookMs);
  const verdicts = stack.posts('');
  // Both clicks from inside the page, 150 ms apart by its own clock: two Playwright clicks are
  // several round trips each, and on a loaded machine the second landed past the page's 400 ms
  // guard after input-3 appeared, where a second click is meant to count.
  await stack.page.evaluate(`{
    const supports = document.querySelector('button.verdict[data-verdict="supports"]');
    supports.click();
    setTimeout(() => supports.click(), 150);
  }`);
  await stack.shows('input-3');
  await sleep(500);
  assert.deepEqual(verdicts.ids, ['input-2']);

  await sleep(lookMs);
  await stack.page.locator('button.verdict[data-verdict="unsure"]').dblclick();
  await stack.shows('input-4');
  await sleep(500);
  verdicts.stop();
  assert.deepEqual(verdicts.ids, ['input-2', 'input-3']);
});

test('a key pressed again once the next item has been shown decides that one too; a click leaves the focus on the verdicts', async () => {
  await sleep(lookMs);
  const verdicts = stack.posts('');
  await stack.page.keyboard.press('2');
  await stack.shows('input-5');
  await sleep(lookMs);
  await stack.page.locator('button.verdict[data-verdict="wrong-prediction"]').click();
  await stack.shows('input-6');
  verdicts.stop();
  assert.deepEqual(verdicts.ids, ['input-4', 'input-5']);
  // The button clicked was disabled while the verdict was sent: the focus is not lost to the body.
  assert.equal(await stack.page.evaluate<string>('document.activeElement.id'), 'verdicts');
  assert.deepEqual(stack.pageErrors, []);
});

test('the empty queue loads the next item by itself when the backlog count rises', async () => {
  await sleep(lookMs);
  await stack.page.keyboard.press('1');
  await stack.shows('input-7');
  await sleep(lookMs);
  await stack.page.keyboard.press('1');
  await stack.page.getByRole('heading', { name: 'Nothing to review right now.' }).waitFor();
  // input-1, skipped by this reviewer, waits for another one.
  await stack.page.locator('#backlog', { hasText: /^1 waiting$/ }).waitFor();
  await stack.seed('input-late');
  // The count is read every 30 s and when the tab gains the focus.
  await stack.page.evaluate(`window.dispatchEvent(new Event('focus'))`);
  await stack.shows('input-late');
});
