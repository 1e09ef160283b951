import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, test } from 'node:test';
import { otherReviewerToken, type PageStack, startPageStack } from './page-stack.ts';

// The nothing-to-review screen next to the header's "N waiting": when the items waiting are ones
// the reviewer skipped (kept away from them for 7 days, left for the others), the screen says so,
// instead of "Nothing to review" beside "1 waiting" with no word on why. Its words match what the
// page does: it loads a new item by itself (no "refresh in a while"), and the footer names R as the
// button it presses (Refresh), and lists E, R and U on an item only while they do something.

let stack: PageStack;

/** The footer's entries a sighted user sees, in words: "R refresh". */
const footerKeys = async () =>
  (await stack.page.locator('footer.keys > span:visible').allTextContents()).map((text) => text.replace(/\s+/g, ' ').trim());

before(async () => {
  stack = await startPageStack();
  await stack.seed('idle-skipped');
  await stack.signIn('idle-skipped');
});

after(async () => {
  await stack?.close();
});

test('with nothing left but an item the reviewer skipped, the screen says the 1 waiting is theirs skipped, left for other reviewers', async () => {
  const page = stack.page;
  // On an item with no lease warned or run out, no image failed and no Undo offered, E, R and U do nothing: not listed.
  assert.deepEqual(await footerKeys(), ['1–4 verdict', 'S skip', '←→ explanation', 'M method', 'C class', '[] opacity', '/ comment']);
  await sleep(500); // no skip is taken in the first 400 ms an item is shown
  await page.keyboard.press('s');
  await page.getByRole('heading', { name: 'Nothing to review right now.' }).waitFor();
  // R presses Refresh here: the footer calls it that.
  assert.deepEqual(await footerKeys(), ['R refresh']);
  assert.equal(await page.locator('#idle-action').getAttribute('aria-keyshortcuts'), 'R');
  assert.match((await page.locator('#idle-action').textContent()) ?? '', /^Refresh /);
  await page.locator('#backlog', { hasText: /^1 waiting$/ }).waitFor();
  await page.locator('#idle-text', { hasText: 'you skipped' }).waitFor();
  assert.equal(
    await page.locator('#idle-text').textContent(),
    'Every sampled explanation has a verdict, is leased to another reviewer, or was skipped by you. The 1 waiting is an item you skipped: it is left for other reviewers. A new item is shown here when one comes.',
  );
  assert.deepEqual(stack.pageErrors, []);
});

test('after the next item that came in, the screen says it again; once another reviewer judged the skipped one, nothing of skips', async () => {
  const page = stack.page;
  await stack.seed('idle-new');
  await page.getByRole('button', { name: 'Refresh' }).click();
  await stack.shows('idle-new');
  await sleep(500);
  await page.keyboard.press('1');
  await page.getByRole('heading', { name: 'Nothing to review right now.' }).waitFor();
  await page.locator('#idle-text', { hasText: 'The 1 waiting is an item you skipped' }).waitFor();
  assert.deepEqual(await footerKeys(), ['U undo', 'R refresh']);

  // Bob takes the skipped item and judges it: nothing waits.
  const leased = await stack.api('GET', '/v1/reviews/next', undefined, otherReviewerToken);
  assert.equal((leased.body as { item: { inferenceId: string } }).item.inferenceId, 'idle-skipped');
  assert.equal((await stack.api('POST', '/v1/reviews/idle-skipped', { verdict: 'supports' }, otherReviewerToken)).status, 200);
  await page.getByRole('button', { name: 'Refresh' }).click();
  await page.locator('#backlog', { hasText: /^0 waiting$/ }).waitFor();
  // It loads a new item by itself (the count rising): it says so with nothing waiting too.
  assert.equal(await page.locator('#idle-text').textContent(), 'Every sampled explanation has a verdict, is leased to another reviewer, or was skipped by you. A new item is shown here when one comes.');
  assert.deepEqual(stack.pageErrors, []);
});
