import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, test } from 'node:test';
import { otherReviewerToken, type PageStack, startPageStack } from './page-stack.ts';

// The nothing-to-review screen next to the header's "N waiting": when the items waiting are ones
// the reviewer skipped (kept away from them for 7 days, left for the others), the screen says so,
// instead of "Nothing to review" beside "1 waiting" with no word on why.

let stack: PageStack;

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
  await sleep(500); // no skip is taken in the first 400 ms an item is shown
  await page.keyboard.press('s');
  await page.getByRole('heading', { name: 'Nothing to review — refresh in a while.' }).waitFor();
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
  await page.getByRole('heading', { name: 'Nothing to review — refresh in a while.' }).waitFor();
  await page.locator('#idle-text', { hasText: 'The 1 waiting is an item you skipped' }).waitFor();

  // Bob takes the skipped item and judges it: nothing waits.
  const leased = await stack.api('GET', '/v1/reviews/next', undefined, otherReviewerToken);
  assert.equal((leased.body as { item: { inferenceId: string } }).item.inferenceId, 'idle-skipped');
  assert.equal((await stack.api('POST', '/v1/reviews/idle-skipped', { verdict: 'supports' }, otherReviewerToken)).status, 200);
  await page.getByRole('button', { name: 'Refresh' }).click();
  await page.locator('#backlog', { hasText: /^0 waiting$/ }).waitFor();
  assert.equal(await page.locator('#idle-text').textContent(), 'Every sampled explanation has a verdict, is leased to another reviewer, or was skipped by you.');
  assert.deepEqual(stack.pageErrors, []);
});
