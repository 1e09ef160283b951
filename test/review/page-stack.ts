import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ReviewItem } from '@gradcam/contracts';
import { freePort, startRedisWithClient } from '@gradcam/dev-services';
import { ReviewPool } from '@gradcam/review-pool';
import { FsBlobStore, blobAnswerHeaders, verifyBlobLink } from '@gradcam/storage';
import type { Browser, BrowserContext, Page, Request } from 'playwright-core';
import { createApp } from '../../services/review/src/app.ts';
import { ReviewDesk } from '../../services/review/src/review-desk.ts';
import { reviewItem } from '../../services/review/src/review-item-fixture.ts';
import { waitFor } from '../support/wait-for.ts';
import { launchChromium } from './chromium.ts';

// The review service alone (real Redis, real filesystem store, one stored explanation copied per
// item) and a headless Chromium on its page: for the page's own behaviour, without the worker and
// the model that review-page.test.ts runs. The item's files are the review service's fixture.

const root = new URL('../../', import.meta.url);
const manifestFixture: unknown = JSON.parse(await readFile(new URL('services/review/src/fixtures/sheep-explanation.json', root), 'utf8'));
const photo = await readFile(new URL('test/fixtures/images/sheep-pastoral.jpg', root));

export const reviewerToken = 'page-stack-alice-0123456789';
/** A second reviewer, bob, for what must not pass from one reviewer to another. */
export const otherReviewerToken = 'page-stack-bob-0123456789';

/** The parts of the stored explanation a test may change before the item is seeded. */
export interface Manifest {
  model: { labels: string[] };
  prediction: { classIndex: number };
  explanations: { label: string; classIndex: number; overlay: { path: string }; rawMap: { path: string; bytes: number } }[];
}

export interface PageStack {
  readonly url: string;
  readonly pool: ReviewPool;
  readonly browser: Browser;
  readonly context: BrowserContext;
  readonly page: Page;
  /** Uncaught errors in any page of the context. */
  readonly pageErrors: string[];
  /** Stores an item's files and puts it in the pool, pending. */
  seed(id: string, extra?: Partial<ReviewItem>, change?: (manifest: Manifest) => void): Promise<void>;
  /** Calls the API as the reviewer the page signs in as (another with `token`). */
  api(method: string, path: string, body?: unknown, token?: string): Promise<{ status: number; body: unknown }>;
  /** Opens the page in `page` (default: the stack's) with the reviewer's token (or `token`) and waits until it shows `id`, its images loaded. */
  signIn(id: string, page?: Page, token?: string): Promise<void>;
  /** Waits until `page` shows `id` with its images loaded and decoded. */
  shows(id: string, page?: Page): Promise<void>;
  /**
   * Holds back every request to `method path` for `ms` before the service handles it, from now on
   * until `stop()`: a slow network, for requests that Playwright's routes do not see (a keepalive
   * fetch sent as a page unloads). `count()`: how many were held; `landed()`: resolves once every
   * one held so far has reached the service.
   */
  hold(method: string, path: string, ms: number): { count(): number; landed(): Promise<void>; stop(): void };
  /**
   * The next time `id` is leased (GET /v1/reviews/next answers it), its stored `files` (paths in
   * its folder: 'input.jpg', an overlay's) are removed after the service checked them and before
   * the answer goes out: the links the page is handed lead to objects that are gone, as when an
   * operator or a client deletes them meanwhile. `restore()` stores them again as they were.
   */
  removeOnLease(id: string, files: string[]): { removed(): Promise<void>; restore(): Promise<void> };
  /** The POSTs the page sent to the review API whose path ends with `suffix` ('' for verdicts), from now on. */
  posts(suffix: string): { readonly ids: string[]; stop(): void };
  close(): Promise<void>;
}

export async function startPageStack(options: { leaseMs?: number } = {}): Promise<PageStack> {
  const { redis, stop } = await startRedisWithClient();
  const rootDir = await mkdtemp(join(tmpdir(), 'gradcam-page-stack-'));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const signingSecret = 'page-stack-secret-0123456789';
  const store = new FsBlobStore({ rootDir, publicBaseUrl: url, signingSecret });
  const pool = new ReviewPool(redis, `page-stack-${Math.random().toString(36).slice(2, 8)}`);
  const desk = new ReviewDesk({ pool, store, leaseMs: options.leaseMs ?? 600_000, undoMs: 120_000, presignSeconds: 600 });
  const app = createApp({
    desk,
    pool,
    reviewers: new Map([
      [reviewerToken, 'alice'],
      [otherReviewerToken, 'bob'],
    ]),
    checkReady: async () => {},
    onResponse: () => {},
    scrape: async () => ({ contentType: 'text/plain', body: '' }),
  });
  const holds = new Set<{ method: string; path: string; ms: number; held: Promise<void>[] }>();
  app.addHook('onRequest', async (request) => {
    for (const hold of holds) {
      if (request.method !== hold.method || request.url.split('?')[0] !== hold.path) continue;
      const held = sleep(hold.ms);
      hold.held.push(held);
      await held;
    }
  });
  const removals = new Map<string, { files: string[]; kept: Map<string, Buffer>; done: () => void; failed: (error: unknown) => void }>();
  app.addHook('onSend', async (request, reply, payload) => {
    if (request.method !== 'GET' || request.url.split('?')[0] !== '/v1/reviews/next' || reply.statusCode !== 200 || typeof payload !== 'string') return payload;
    const id = (JSON.parse(payload) as { item?: { inferenceId?: string } }).item?.inferenceId ?? '';
    const removal = removals.get(id);
    if (!removal) return payload;
    removals.delete(id);
    const folder = reviewItem(id).folder;
    try {
      for (const file of removal.files) {
        removal.kept.set(file, await store.get(`${folder}${file}`));
        await store.delete(`${folder}${file}`);
      }
      removal.done();
    } catch (error) {
      // A file the item does not have: the test's waiting on removed() fails with it.
      removal.failed(error);
    }
    return payload;
  });
  // The presigned links point here; the ingest service serves them in the real stack, as here:
  // the link checked, and the answer's headers those of every blob answer.
  app.get('/v1/blobs/*', async (request, reply) => {
    const key = (request.params as { '*': string })['*'];
    const link = verifyBlobLink(key, request.query, signingSecret);
    if (link === undefined) return reply.code(403).send();
    const blob = await store.readForServing(key, link.served);
    return reply.headers(blobAnswerHeaders(blob)).send(blob.body);
  });
  await app.listen({ port, host: '127.0.0.1' });

  const browser = await launchChromium();
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, deviceScaleFactor: 1, locale: 'en-US', timezoneId: 'UTC', reducedMotion: 'reduce' });
  const pageErrors: string[] = [];
  context.on('page', (page) => page.on('pageerror', (error) => pageErrors.push(error.message)));
  const page = await context.newPage();
  page.setDefaultTimeout(10_000);

  const read = <T>(on: Page, expression: string) => on.evaluate<T>(expression);
  const shows = async (id: string, on: Page = page) => {
    await on.locator('#details code', { hasText: new RegExp(`^${id}$`) }).waitFor();
    const images = `['input-image', 'overlay-base', 'overlay-image'].map((id) => document.getElementById(id))`;
    // Polled from here: the page's Content-Security-Policy refuses page.waitForFunction's eval.
    await waitFor('the images loaded', async () => ((await read<boolean>(on, `${images}.every((img) => img.complete && img.naturalWidth > 0)`)) ? true : undefined), 30_000, 50);
    await on.evaluate(`Promise.all(${images}.map((img) => img.decode())).then(() => true)`);
  };

  return {
    url,
    pool,
    browser,
    context,
    page,
    pageErrors,
    async seed(id, extra = {}, change) {
      const item = reviewItem(id, extra);
      const manifest = structuredClone(manifestFixture) as Manifest;
      change?.(manifest);
      const prediction = {
        schemaVersion: 1,
        inferenceId: id,
        acceptedAt: new Date().toISOString(),
        model: { name: 'nsfw-mobilenet-v2', version: 'nsfwjs-4.4.0', versionGiven: false },
        image: { key: `${item.folder}input.jpg` },
        capture: { explain: true, reason: 'all', policy: 'all' },
      };
      await store.put(`${item.folder}explanation.json`, Buffer.from(JSON.stringify(manifest)), { contentType: 'application/json' });
      await store.put(`${item.folder}prediction.json`, Buffer.from(JSON.stringify(prediction)), { contentType: 'application/json' });
      await store.put(`${item.folder}input.jpg`, photo, { contentType: 'image/jpeg' });
      for (const entry of manifest.explanations) {
        await store.put(`${item.folder}${entry.overlay.path}`, photo, { contentType: 'image/jpeg' });
        await store.put(`${item.folder}${entry.rawMap.path}`, Buffer.alloc(entry.rawMap.bytes, 1), { contentType: 'application/octet-stream' });
      }
      await pool.add(item);
    },
    async api(method, path, body, token = reviewerToken) {
      const response = await fetch(url + path, {
        method,
        headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      const text = await response.text();
      return { status: response.status, body: text ? (JSON.parse(text) as unknown) : undefined };
    },
    async signIn(id, on = page, token = reviewerToken) {
      await on.goto(url);
      await on.evaluate(`localStorage.setItem('gradcam-review.token', ${JSON.stringify(token)})`);
      await on.reload();
      await shows(id, on);
    },
    shows,
    hold(method, path, ms) {
      const hold = { method, path, ms, held: [] as Promise<void>[] };
      holds.add(hold);
      return {
        count: () => hold.held.length,
        landed: async () => void (await Promise.all(hold.held)),
        stop: () => void holds.delete(hold),
      };
    },
    removeOnLease(id, files) {
      const kept = new Map<string, Buffer>();
      let done = () => {};
      let failed: (error: unknown) => void = () => {};
      const removed = new Promise<void>((resolve, reject) => {
        done = resolve;
        failed = reject;
      });
      removed.catch(() => {});
      removals.set(id, { files, kept, done, failed });
      return {
        removed: () => removed,
        async restore() {
          const folder = reviewItem(id).folder;
          for (const [file, body] of kept) await store.put(`${folder}${file}`, body, { contentType: 'image/jpeg' });
        },
      };
    },
    posts(suffix) {
      const ids: string[] = [];
      const pattern = new RegExp(`^/v1/reviews/([^/]+)${suffix}$`);
      const onRequest = (request: Request) => {
        const match = request.method() === 'POST' ? pattern.exec(new URL(request.url()).pathname) : null;
        if (match?.[1]) ids.push(decodeURIComponent(match[1]));
      };
      context.on('request', onRequest);
      return { ids, stop: () => void context.off('request', onRequest) };
    },
    async close() {
      await browser.close();
      await app.close();
      await stop();
      await rm(rootDir, { recursive: true, force: true });
    },
  };
}
