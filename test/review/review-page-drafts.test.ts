import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, test } from 'node:test';
import { otherReviewerToken, type PageStack, reviewerToken, startPageStack } from './page-stack.ts';

// A comment typed on an item is not lost when its verdict is refused (409: the lease is gone) or
// the token is (401), nor when the lease runs out: it comes back with the item, to the reviewer
// who wrote it and nobody else; the page says what was not saved, and stops offering verdicts
// once the lease has run out, keeping Load again in reach whatever else it says.

let stack: PageStack;
const comment = 'The map lights up the fence, not the sheep.';
const commentBox = () => stack.page.getByLabel('Comment');

before(async () => {
  stack = await startPageStack();
  await stack.seed('drafts-a');
  await stack.signIn('drafts-a');
});

after(async () => {
  await stack?.close();
});

test('a verdict refused because the item is no longer leased (409) says so, and the comment comes back with the item', async () => {
  await commentBox().fill(comment);
  // The item is given back behind the page's back (another tab of the same reviewer).
  assert.equal((await stack.api('POST', '/v1/reviews/drafts-a/release')).status, 200);
  await sleep(500); // the page takes no verdict in the first 400 ms an item is shown
  await stack.page.keyboard.press('Escape');
  await stack.page.keyboard.press('1');
  // It is pending again, and the next lease hands it out again.
  await stack.page.locator('#banner-text', { hasText: 'NOT saved' }).waitFor();
  await stack.shows('drafts-a');
  assert.match(
    (await stack.page.locator('#banner-text').textContent()) ?? '',
    /^Your verdict on drafts-a was NOT saved \(REVIEW_NOT_LEASED\): the item is no longer leased to you /,
  );
  assert.equal(await commentBox().inputValue(), comment);
  await sleep(500);
});

test('a verdict answered 401 says it was not saved; signed in again, the item comes back with the comment', async () => {
  assert.equal(await commentBox().inputValue(), comment);
  await stack.page.route('**/v1/reviews/drafts-a', (route) =>
    route.fulfill({ status: 401, contentType: 'application/json', body: JSON.stringify({ error: { code: 'UNAUTHORIZED', message: 'no' } }) }),
  );
  try {
    await stack.page.getByRole('button', { name: /Supports/ }).click();
    const reason = stack.page.locator('#signin-reason');
    await reason.waitFor();
    assert.match((await reason.textContent()) ?? '', /Your verdict on drafts-a was NOT saved\. Your comment is kept/);
  } finally {
    await stack.page.unroute('**/v1/reviews/drafts-a');
  }
  await stack.page.getByLabel('Reviewer token').fill(reviewerToken);
  await stack.page.getByRole('button', { name: 'Start reviewing' }).click();
  await stack.shows('drafts-a');
  assert.equal(await commentBox().inputValue(), comment, 'the draft is restored');

  // Sent, the draft is gone: the item shown again (after an undo) starts empty.
  await sleep(500);
  await stack.page.getByRole('button', { name: /Supports/ }).click();
  await stack.page.getByRole('heading', { name: 'Nothing to review right now.' }).waitFor();
  assert.equal(await stack.page.evaluate<number>('sessionStorage.length'), 0);
});

test('a draft kept over a 401 is not shown to another reviewer who signs in at the same tab', async () => {
  await stack.seed('drafts-b');
  await stack.signIn('drafts-b');
  await commentBox().fill('alice: a private remark about drafts-b');
  await sleep(500);
  await stack.page.route('**/v1/reviews/drafts-b', (route) =>
    route.fulfill({ status: 401, contentType: 'application/json', body: JSON.stringify({ error: { code: 'UNAUTHORIZED', message: 'no' } }) }),
  );
  try {
    await stack.page.getByRole('button', { name: /Supports/ }).click();
    await stack.page.locator('#signin-reason', { hasText: 'Your comment is kept' }).waitFor();
  } finally {
    await stack.page.unroute('**/v1/reviews/drafts-b');
  }
  // Alice's lease ends; bob sits down at the tab and is handed the same item.
  assert.equal((await stack.api('POST', '/v1/reviews/drafts-b/release')).status, 200);
  await stack.page.getByLabel('Reviewer token').fill(otherReviewerToken);
  await stack.page.getByRole('button', { name: 'Start reviewing' }).click();
  await stack.shows('drafts-b');
  assert.equal(await stack.page.locator('#reviewer').textContent(), 'Reviewing as bob');
  assert.equal(await commentBox().inputValue(), '', 'alice’s draft is not bob’s');
  assert.equal(await stack.page.evaluate<number>('sessionStorage.length'), 0, 'alice’s draft dropped');

  // Bob's own draft comes back to him over a reload.
  await commentBox().fill('bob: fence');
  await stack.page.reload();
  await stack.shows('drafts-b');
  assert.equal(await commentBox().inputValue(), 'bob: fence');
  assert.deepEqual(stack.pageErrors, []);
});

test('a verdict sent with a comment and taken back with Undo comes back with its comment, to change the verdict and keep the words', async () => {
  const own = await startPageStack();
  try {
    await own.seed('drafts-undo');
    await own.signIn('drafts-undo');
    const page = own.page;
    const words = 'Heat on the houses, not the boats.';
    await page.getByLabel('Comment').fill(words);
    await sleep(500);
    await page.getByRole('button', { name: /Wrong evidence/ }).click();
    await page.locator('#banner-text', { hasText: 'Saved “Wrong evidence” for drafts-undo with your comment.' }).waitFor();
    await page.getByRole('button', { name: /^Undo/ }).click();
    await page.locator('#banner-text', { hasText: /^Took back “Wrong evidence” on drafts-undo/ }).waitFor();
    await own.shows('drafts-undo');
    assert.equal(await page.getByLabel('Comment').inputValue(), words, 'the comment sent with the verdict taken back is in the box again');
    // Sent again, it is kept with the new verdict, and the draft goes.
    await sleep(500);
    await page.getByRole('button', { name: /Wrong prediction/ }).click();
    await page.getByRole('heading', { name: 'Nothing to review right now.' }).waitFor();
    const listed = (await own.api('GET', '/v1/reviews?status=reviewed')).body as { items: { inferenceId: string; verdict?: string; comment?: string }[] };
    const item = listed.items.find((entry) => entry.inferenceId === 'drafts-undo');
    assert.deepEqual([item?.verdict, item?.comment], ['wrong-prediction', words]);
    assert.equal(await page.evaluate<number>('sessionStorage.length'), 0);
    assert.deepEqual(own.pageErrors, []);
  } finally {
    await own.close();
  }
});

test('when the lease runs out the verdicts are disabled and Load again brings the item back with its comment', async () => {
  const short = await startPageStack({ leaseMs: 4_000 });
  try {
    await short.seed('drafts-short');
    await short.signIn('drafts-short');
    const page = short.page;
    // The Date header is truncated to the second: the count starts a second short, never late.
    const left = Number(/^0:(\d\d) left$/.exec(((await page.locator('#lease').textContent()) ?? '').trim())?.[1]);
    assert.ok(left <= 4, `${left} s left of a 4 s lease`);
    await page.getByLabel('Comment').fill('half-way through');
    const loadAgain = page.getByRole('button', { name: /^Load again/ });
    await loadAgain.waitFor({ timeout: 6_000 });
    assert.match((await page.locator('#banner-text').textContent()) ?? '', /^The lease on drafts-short ran out: a verdict would be refused/);
    assert.deepEqual(await page.evaluate<boolean[]>(`[...document.querySelectorAll('button.verdict, #skip')].map((b) => b.disabled)`), [true, true, true, true, true]);
    const verdicts = short.posts('');
    await page.evaluate('document.activeElement.blur()');
    await page.keyboard.press('1');
    await sleep(300);
    verdicts.stop();
    assert.deepEqual(verdicts.ids, [], 'no verdict sent on a lapsed lease');

    // Whatever the banner says next, Load again stays in reach: without it, a mouse is stuck.
    await page.getByLabel('Model', { exact: true }).fill('m');
    await page.getByRole('button', { name: 'Apply' }).click();
    await page.locator('#banner-text', { hasText: /^Model filter “m”: it applies from the next item\.$/ }).waitFor();
    assert.ok(await loadAgain.isVisible(), 'Load again offered after another message');

    await loadAgain.click();
    await page.locator('#lease', { hasText: /^0:0[1-4] left$/ }).waitFor();
    await short.shows('drafts-short');
    assert.equal(await page.getByLabel('Comment').inputValue(), 'half-way through');
    assert.ok(await page.getByRole('button', { name: /Supports/ }).isEnabled());
    assert.ok(!(await loadAgain.isVisible()));
    assert.deepEqual(short.pageErrors, []);
  } finally {
    await short.close();
  }
});
