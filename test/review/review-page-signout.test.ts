import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { type PageStack, reviewerToken, startPageStack } from './page-stack.ts';

// Change token is no error: what the page says after it is a neutral status line (announced, as
// the page's status line is), not the red alert a refused token gets.

let stack: PageStack;

before(async () => {
  stack = await startPageStack();
  await stack.seed('signout-held');
  await stack.signIn('signout-held');
});

after(async () => {
  await stack?.close();
});

test('Change token: the page says so in its neutral status line, not as an error; signing in again clears it', async () => {
  const page = stack.page;
  await page.getByRole('button', { name: 'Change token' }).click();
  await page.getByLabel('Reviewer token').waitFor();
  const status = page.locator('#banner-text');
  await status.filter({ hasText: 'Signed out' }).waitFor();
  assert.equal(await status.textContent(), 'Signed out. The item you held went back to the queue. Enter a reviewer token to go on.');
  assert.equal(await status.getAttribute('role'), 'status', 'a live region: a screen reader hears it');
  assert.match((await page.locator('#banner').getAttribute('class')) ?? '', /\bbanner-info\b/, 'the neutral style, not the error one');
  assert.equal(await page.locator('[role=alert]:visible').count(), 0, 'nothing said as an alert');
  assert.equal(await page.locator('#signin-reason').isVisible(), false);
  assert.equal(await page.evaluate<string>('document.activeElement.id'), 'token', 'the focus is on the token field');

  // Signed in again: the line goes, as the item comes back.
  await page.getByLabel('Reviewer token').fill(reviewerToken);
  await page.keyboard.press('Enter');
  await stack.shows('signout-held');
  assert.equal(await status.textContent(), '');
  assert.deepEqual(stack.pageErrors, []);
});
