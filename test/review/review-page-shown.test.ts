import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, test } from 'node:test';
import { ApiError, apiErrorBody } from '@gradcam/http-service';
import { z } from 'zod';
import { type Manifest, type PageStack, startPageStack } from './page-stack.ts';

// A verdict names the explanation on the reviewer's screen (`shown`: its method and class): the
// page sends the one shown when the verdict key is pressed, after switching with m, c or the arrows.

let stack: PageStack;

/** gradcam and layercam for the predicted class, Neutral (2), and for Drawing (0): four heatmaps. */
const fourHeatmaps = (manifest: Manifest) => {
  const first = manifest.explanations[0];
  if (!first) return;
  manifest.explanations = (['gradcam', 'layercam'] as const).flatMap((method) =>
    [[2, 'Neutral'], [0, 'Drawing']].map(([classIndex, label]) => ({
      ...structuredClone(first),
      method,
      classIndex: classIndex as number,
      label: label as string,
      overlay: { ...first.overlay, path: `${method}-${classIndex}.overlay.jpg` },
      rawMap: { ...first.rawMap, path: `${method}-${classIndex}.npy` },
    })),
  );
};

before(async () => {
  stack = await startPageStack();
  await stack.seed('shown-keys', { predictedClass: 2, label: 'Neutral', sampledAt: Date.now() - 2_000 }, fourHeatmaps);
  await stack.seed('shown-arrows', { predictedClass: 2, label: 'Neutral', sampledAt: Date.now() - 1_000 }, fourHeatmaps);
  await stack.signIn('shown-keys');
});

after(async () => {
  await stack?.close();
});

/** Presses a verdict key and answers the body the page sent. */
async function verdictSent(key: string): Promise<{ verdict: string; shown?: unknown }> {
  const page = stack.page;
  await sleep(500); // no verdict is taken in the first 400 ms the evidence shown changed
  const [request] = await Promise.all([page.waitForRequest((r) => r.method() === 'POST' && /\/v1\/reviews\/[^/]+$/.test(new URL(r.url()).pathname)), page.keyboard.press(key)]);
  return request.postDataJSON() as { verdict: string; shown?: unknown };
}

const listedShown = async (id: string) => {
  const listed = (await stack.api('GET', '/v1/reviews?status=reviewed')).body as { items: { inferenceId: string; shown?: unknown }[] };
  return listed.items.find((item) => item.inferenceId === id)?.shown;
};

test('switching to another explanation, then pressing a verdict key, sends that explanation\'s method and class', async () => {
  const page = stack.page;
  const meta = page.locator('#overlay-meta');
  await meta.filter({ hasText: 'gradcam · Neutral' }).waitFor();
  await page.locator('#verdicts').focus();
  await page.keyboard.press('m');
  await meta.filter({ hasText: 'layercam · Neutral' }).waitFor();
  await page.keyboard.press('c');
  await meta.filter({ hasText: 'layercam · Drawing' }).waitFor();
  const sent = await verdictSent('2');
  assert.deepEqual(sent, { verdict: 'wrong-evidence', shown: { method: 'layercam', classIndex: 0 } });
  await stack.shows('shown-arrows');
  assert.deepEqual(await listedShown('shown-keys'), { method: 'layercam', classIndex: 0 }, 'kept with the verdict');

  // The next item starts on the predicted class's first heatmap; the arrows step through them.
  await meta.filter({ hasText: 'gradcam · Neutral' }).waitFor();
  await page.locator('#verdicts').focus();
  await page.keyboard.press('ArrowRight');
  await meta.filter({ hasText: 'gradcam · Drawing' }).waitFor();
  assert.deepEqual(await verdictSent('1'), { verdict: 'supports', shown: { method: 'gradcam', classIndex: 0 } });
  await page.getByRole('heading', { name: 'Nothing to review' }).waitFor();
  assert.deepEqual(await listedShown('shown-arrows'), { method: 'gradcam', classIndex: 0 });
  assert.deepEqual(stack.pageErrors, []);
});

test('a verdict that reaches a replica of the version before (a rolling upgrade), which refuses `shown` as an unknown key, is sent again without it and kept', async () => {
  const page = stack.page;
  await stack.seed('shown-older-replica', { predictedClass: 2, label: 'Neutral' }, fourHeatmaps);
  await page.reload();
  await stack.shows('shown-older-replica');
  // What a review service of the version before answers to a body with `shown`: its verdict body
  // schema (strict: verdict and comment) refused through its error handler's own wording.
  const olderBody = z.strictObject({ verdict: z.enum(['supports', 'wrong-evidence', 'wrong-prediction', 'unsure']), comment: z.string().max(2000).optional() });
  const olderAnswer = (body: unknown) => {
    const parsed = olderBody.safeParse(body);
    if (parsed.success) return undefined;
    const issue = parsed.error.issues[0];
    return apiErrorBody(new ApiError(400, 'REQUEST_INVALID', `${issue?.path.join('.') || 'body'}: ${issue?.message ?? 'invalid'}`));
  };
  const sent: unknown[] = [];
  const verdictPath = /\/v1\/reviews\/shown-older-replica$/;
  await page.route(verdictPath, async (route) => {
    const body = route.request().postDataJSON() as unknown;
    sent.push(body);
    const refused = sent.length === 1 ? olderAnswer(body) : undefined;
    if (refused) return route.fulfill({ status: 400, contentType: 'application/json', body: JSON.stringify(refused) });
    return route.continue();
  });
  try {
    await page.locator('#verdicts').focus();
    await sleep(500);
    await page.keyboard.press('1');
    await page.getByRole('heading', { name: 'Nothing to review' }).waitFor();
  } finally {
    await page.unroute(verdictPath);
  }
  assert.deepEqual(sent, [{ verdict: 'supports', shown: { method: 'gradcam', classIndex: 2 } }, { verdict: 'supports' }], 'sent again without shown');
  const listed = (await stack.api('GET', '/v1/reviews?status=reviewed')).body as { items: { inferenceId: string; verdict?: string; shown?: unknown }[] };
  const kept = listed.items.find((item) => item.inferenceId === 'shown-older-replica');
  assert.deepEqual([kept?.verdict, kept?.shown], ['supports', undefined]);
  assert.deepEqual(stack.pageErrors, []);
});
