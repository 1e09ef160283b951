import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, test } from 'node:test';
import { waitFor } from '../support/wait-for.ts';
import { type PageStack, startPageStack } from './page-stack.ts';

// A reviewer holds one item at a time, so every tab of theirs shows it: closing or reloading one
// tab must not give back the item another tab still shows; the last tab to go gives it back.

let stack: PageStack;

before(async () => {
  stack = await startPageStack();
  await stack.seed('tabs-held');
});

after(async () => {
  await stack?.close();
});

const leasedBy = async (id: string) => {
  const listed = (await stack.api('GET', '/v1/reviews?status=leased')).body as { items: { inferenceId: string; leasedBy?: string }[] };
  return listed.items.find((i) => i.inferenceId === id)?.leasedBy;
};

test('leaving one of two tabs that show the item keeps it leased; leaving the last releases it', async () => {
  await stack.signIn('tabs-held');
  const second = await stack.context.newPage();
  await stack.signIn('tabs-held', second);

  // A reload is a leave too: the reloaded tab comes back to the item, the other still shows it.
  // (The page's release, a keepalive request sent as it goes, is judged by the pool: it takes
  // well under a second when it is sent.)
  await second.reload();
  await stack.shows('tabs-held', second);
  await sleep(1_000);
  assert.equal(await leasedBy('tabs-held'), 'alice', 'a reloaded tab did not release what the other shows');

  await stack.page.goto('about:blank');
  await sleep(1_000);
  assert.equal(await leasedBy('tabs-held'), 'alice', 'a tab left did not release what the other shows');

  await second.goto('about:blank');
  await waitFor('tabs-held back in the queue', async () => ((await leasedBy('tabs-held')) === undefined ? true : undefined), 5_000, 50);
  assert.deepEqual(stack.pageErrors, []);
});
