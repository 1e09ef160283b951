import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, test } from 'node:test';
import { type PageStack, startPageStack } from './page-stack.ts';

// A verdict sent on an item this reviewer judged already (an earlier try whose answer was lost,
// or another tab) is refused with the verdict kept: the page says which verdict stands and offers
// to undo it, instead of saying the lease ran out and nothing was saved.

let stack: PageStack;

before(async () => {
  stack = await startPageStack();
  await stack.seed('judged-a');
  await stack.signIn('judged-a');
});

after(async () => {
  await stack?.close();
});

test('a second verdict on an item judged already says which verdict is kept and offers its undo; undone, the item comes back with the comment', async () => {
  const page = stack.page;
  await page.getByLabel('Comment').fill('on second thoughts, the fence');
  // Another tab of the same reviewer (or this page's try whose answer was lost) kept "Supports".
  assert.equal((await stack.api('POST', '/v1/reviews/judged-a', { verdict: 'supports' })).status, 200);
  await sleep(500); // the page takes no verdict in the first 400 ms an item is shown
  await page.getByRole('button', { name: /Wrong evidence/ }).click();
  const bannerText = page.locator('#banner-text');
  await bannerText.filter({ hasText: 'is kept' }).waitFor();
  assert.match(
    (await bannerText.textContent()) ?? '',
    /^Your verdict “Wrong evidence” on judged-a was NOT saved: you judged it already \(an earlier try whose answer was lost, or another tab\), and “Supports” is kept\. Undo it \(U\) to give another verdict\./,
  );
  assert.doesNotMatch((await bannerText.textContent()) ?? '', /no longer leased|ran out/);
  await page.getByRole('heading', { name: 'Nothing to review right now.' }).waitFor();
  const undo = page.getByRole('button', { name: /^Undo “Supports”/ });
  assert.ok(await undo.isVisible(), 'the kept verdict can be taken back');

  await undo.click();
  await stack.shows('judged-a');
  assert.equal(await page.getByLabel('Comment').inputValue(), 'on second thoughts, the fence', 'the comment typed comes back with the item');
  await sleep(500);
  await page.getByRole('button', { name: /Wrong evidence/ }).click();
  await bannerText.filter({ hasText: 'Saved “Wrong evidence” for judged-a' }).waitFor();
  const kept = await stack.pool.get('judged-a');
  assert.deepEqual([kept?.verdict, kept?.comment], ['wrong-evidence', 'on second thoughts, the fence']);
  assert.deepEqual(stack.pageErrors, []);
});
