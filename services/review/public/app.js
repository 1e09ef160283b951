// The review page: lease an explanation, show the image next to its heatmap, record a verdict,
// go on to the next. Plain DOM, no dependencies, nothing loaded from outside this service.

const storageKeys = { token: 'gradcam-review.token', model: 'gradcam-review.model', opacity: 'gradcam-review.opacity' };
/**
 * sessionStorage key of the comment typed on an item and not sent yet (this tab only; kept over a
 * reload or a sign-in of the same reviewer, whose name is stored with it).
 */
const draftKey = (id) => `gradcam-review.draft.${id}`;
/**
 * How long after an item's evidence is shown a verdict or skip is not taken: the second click of
 * a double-click, or a key pressed again at once, would otherwise decide an item nobody looked at.
 */
const inputGuardMs = 400;
/**
 * Told to the other tabs of this page (same origin, any reviewer: each message names its
 * reviewer): a tab that leaves gives its item back, and another tab of the same reviewer that
 * shows it still leases it again.
 */
const tabs = typeof BroadcastChannel === 'function' ? new BroadcastChannel('gradcam-review.tabs') : null;
/**
 * How long a tab waits, after another tab of its reviewer said it left with the item both show,
 * before leasing it again: the leaving tab's release (sent as it went) must land first, or it
 * would give back the lease taken again.
 */
const releaseSettleMs = 500;
const tabId = Math.random().toString(36).slice(2) + Date.now().toString(36);
const verdicts = {
  supports: 'Supports',
  'wrong-evidence': 'Wrong evidence',
  'wrong-prediction': 'Wrong prediction',
  unsure: 'Unsure',
};
const verdictByKey = { 1: 'supports', 2: 'wrong-evidence', 3: 'wrong-prediction', 4: 'unsure' };

const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));
const el = {
  banner: $('banner'),
  bannerText: $('banner-text'),
  undo: /** @type {HTMLButtonElement} */ ($('undo')),
  loadAgain: /** @type {HTMLButtonElement} */ ($('load-again')),
  backlog: $('backlog'),
  filterForm: /** @type {HTMLFormElement} */ ($('filter-form')),
  modelFilter: /** @type {HTMLInputElement} */ ($('model-filter')),
  session: $('session'),
  reviewer: $('reviewer'),
  signOut: $('sign-out'),
  signin: $('signin'),
  signinReason: $('signin-reason'),
  signinForm: /** @type {HTMLFormElement} */ ($('signin-form')),
  token: /** @type {HTMLInputElement} */ ($('token')),
  idle: $('idle'),
  idleTitle: $('idle-title'),
  idleText: $('idle-text'),
  idleAction: $('idle-action'),
  loading: $('loading'),
  review: $('review'),
  inputStage: $('input-stage'),
  overlayStage: $('overlay-stage'),
  inputImage: /** @type {HTMLImageElement} */ ($('input-image')),
  overlayBase: /** @type {HTMLImageElement} */ ($('overlay-base')),
  overlayImage: /** @type {HTMLImageElement} */ ($('overlay-image')),
  inputError: $('input-error'),
  overlayError: $('overlay-error'),
  inputMeta: $('input-meta'),
  overlayMeta: $('overlay-meta'),
  opacity: /** @type {HTMLInputElement} */ ($('opacity')),
  opacityValue: /** @type {HTMLOutputElement} */ ($('opacity-value')),
  methods: $('methods'),
  classes: $('classes'),
  mapStats: $('map-stats'),
  predictionLabel: $('prediction-label'),
  predictionProbability: $('prediction-probability'),
  topScores: $('top-scores'),
  verdicts: $('verdicts'),
  verdictButtons: /** @type {HTMLButtonElement[]} */ ([...document.querySelectorAll('button.verdict')]),
  skip: /** @type {HTMLButtonElement} */ ($('skip')),
  comment: /** @type {HTMLTextAreaElement} */ ($('comment')),
  details: $('details'),
};

/** What the page shows now. */
const state = {
  /** @type {any} the packet of GET /v1/reviews/next: { item, prediction, manifest, urls } */
  packet: null,
  /** Index into packet.manifest.explanations. */
  current: 0,
  /** @type {string | null} a verdict picked with Shift+1–4, sent by Ctrl/Cmd+Enter */
  picked: null,
  loading: false,
  sending: false,
  /** performance.now() at which the lease runs out. */
  leaseDeadline: 0,
  /** @type {HTMLImageElement[]} the item's overlays, loading in the background */
  prefetched: [],
  /** @type {Set<string>} URLs of the item's images (input, overlays) that failed to load: no verdict while any did */
  failedImages: new Set(),
  /** Whether the banner says that some of the item's images failed (cleared when the item is shown again). */
  failedBanner: false,
  /** @type {{ id: string, verdict: string, deadline: number } | null} the last verdict, while it can be undone (deadline: performance.now() time) */
  undo: null,
  /** Counts backlog requests, so that an older answer never overwrites a newer one. */
  backlogAsked: 0,
  /** performance.now() when the evidence shown last changed (an item rendered, an image of it loaded): see inputGuardMs. */
  shownAt: 0,
  /** Whether the lease on the item shown ran out by the page's count: no verdict or skip, Load again instead. */
  leaseLapsed: false,
  /** @type {number | null} the backlog count when the page last found nothing to review; a higher one loads again */
  emptyPending: null,
  /**
   * The reviewer token this tab acts with: the one it was signed in with, even when another tab
   * signs in with another (the `storage` event then moves this tab to it, see adoptToken).
   */
  token: '',
  /** The name the service gave the reviewer (the item's leasedBy): whose comment drafts this tab shows. */
  reviewer: '',
  /** @type {ReturnType<typeof setTimeout> | undefined} a lease again, pending, of the item another tab gave back on leaving */
  releaseTimer: undefined,
};

class SignedOut extends Error {}
class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

// ---- small helpers -------------------------------------------------------------------------

/** Creates an element; `props` are properties (className, textContent, …) or `data-*`/`aria-*` attributes. */
function h(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(props)) {
    if (value === undefined || value === null) continue;
    if (name.startsWith('data-') || name.startsWith('aria-') || name === 'role') node.setAttribute(name, String(value));
    else node[name] = value;
  }
  node.append(...children.filter((c) => c !== undefined && c !== null && c !== false));
  return node;
}

const percent = (p, digits = 1) => `${(p * 100).toFixed(digits)}%`;
const storage = {
  get: (key) => {
    try {
      return localStorage.getItem(key) ?? '';
    } catch {
      return '';
    }
  },
  set: (key, value) => {
    try {
      if (value) localStorage.setItem(key, value);
      else localStorage.removeItem(key);
    } catch {
      // Private mode without storage: the page still works for this visit.
    }
  },
};

/**
 * Comment drafts, per inference id and reviewer, in this tab's sessionStorage: a reload or a
 * sign-in of the same reviewer keeps them; another reviewer signed in at this tab never sees them.
 */
const drafts = {
  /** @returns {{ reviewer: string, text: string } | null} */
  read: (key) => {
    try {
      const stored = JSON.parse(sessionStorage.getItem(key) ?? 'null');
      return stored && typeof stored.reviewer === 'string' && typeof stored.text === 'string' ? stored : null;
    } catch {
      return null;
    }
  },
  get: (id, reviewer) => {
    const stored = drafts.read(draftKey(id));
    return stored && stored.reviewer === reviewer ? stored.text : '';
  },
  set: (id, reviewer, text) => {
    try {
      if (text) sessionStorage.setItem(draftKey(id), JSON.stringify({ reviewer, text }));
      else sessionStorage.removeItem(draftKey(id));
    } catch {
      // No storage: the draft lives as long as the text box.
    }
  },
  /** Drops every draft but those of `reviewer` (all of them for null). */
  keepOnly: (reviewer) => {
    try {
      for (const key of Object.keys(sessionStorage)) {
        if (key.startsWith(draftKey('')) && (reviewer === null || drafts.read(key)?.reviewer !== reviewer)) sessionStorage.removeItem(key);
      }
    } catch {
      // Nothing kept, nothing to clear.
    }
  },
};

/** One message line under the header: info, ok, warn or error (with the Undo control beside it while it is offered). */
function banner(kind, text) {
  el.banner.className = `banner banner-${kind}`;
  el.bannerText.textContent = text ?? '';
  // While the lease is lapsed, Load again is the only way on for a mouse: whatever else is said, it stays.
  el.loadAgain.hidden = !(state.leaseLapsed && state.packet);
  fitBanner();
}

/**
 * Collapses the banner while it says nothing and offers nothing. Never `hidden`: its text is the
 * page's live region, which a screen reader follows only while it is rendered.
 */
function fitBanner() {
  el.banner.classList.toggle('is-empty', !el.bannerText.textContent && el.undo.hidden && el.loadAgain.hidden);
}

function show(view) {
  for (const [name, node] of Object.entries({ signin: el.signin, idle: el.idle, loading: el.loading, review: el.review })) node.hidden = name !== view;
  const signedIn = view !== 'signin';
  el.filterForm.hidden = !signedIn;
  el.session.hidden = !signedIn;
  el.backlog.hidden = !signedIn || !el.backlog.textContent;
  document.body.dataset.view = view;
}

// ---- the API -------------------------------------------------------------------------------

/**
 * Calls the review API with this tab's token (never one another tab stored since: what this tab
 * sends is done as the reviewer it shows); a 401 forgets the token and signs out.
 */
async function api(method, path, body) {
  const token = state.token;
  if (!token) throw new SignedOut('');
  let response;
  try {
    response = await fetch(path, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  } catch (error) {
    throw new ApiError(0, 'NETWORK_ERROR', `could not reach the review service (${error instanceof Error ? error.message : String(error)})`);
  }
  if (response.status === 401) {
    // Another tab's newer token is not this one's to forget.
    if (storage.get(storageKeys.token) === token) storage.set(storageKeys.token, '');
    throw new SignedOut('The review service refused that token (401). Enter a valid reviewer token.');
  }
  const text = response.status === 204 ? '' : await response.text();
  let data;
  try {
    data = text ? JSON.parse(text) : undefined;
  } catch {
    data = undefined;
  }
  if (!response.ok) {
    const error = data && data.error;
    throw new ApiError(response.status, error?.code ?? `HTTP_${response.status}`, error?.message ?? (text.slice(0, 200) || response.statusText));
  }
  return { status: response.status, data, response };
}

/** No item shown any more (signed out, nothing to review): no lease to count, none to lease again. */
function dropItem() {
  state.packet = null;
  state.leaseLapsed = false;
  clearTimeout(state.releaseTimer);
  el.loadAgain.hidden = true;
  fitBanner();
}

function signIn(reason) {
  state.token = '';
  dropItem();
  clearUndo();
  el.signinReason.hidden = !reason;
  el.signinReason.textContent = reason ?? '';
  el.reviewer.hidden = true;
  banner('info', '');
  show('signin');
  el.token.value = '';
  el.token.focus();
}

/** An error from the API or the network, said with its code; a 401 goes back to the token prompt. */
function report(error, what) {
  if (error instanceof SignedOut) return signIn(error.message);
  if (error instanceof ApiError) return banner('error', `${what}: ${error.code}: ${error.message}`);
  banner('error', `${what}: ${error instanceof Error ? error.message : String(error)}`);
}

function idle(title, text, action = 'Refresh') {
  dropItem();
  el.idleTitle.textContent = title;
  el.idleText.textContent = text;
  el.idleAction.firstChild.textContent = `${action} `;
  show('idle');
}

// ---- leasing and judging -------------------------------------------------------------------

async function loadNext() {
  if (state.loading) return;
  state.loading = true;
  state.picked = null;
  state.emptyPending = null;
  clearTimeout(state.releaseTimer);
  if (!state.packet) show('loading');
  else el.review.setAttribute('aria-busy', 'true');
  const token = state.token;
  try {
    const model = storage.get(storageKeys.model);
    const { status, data, response } = await api('GET', `/v1/reviews/next${model ? `?model=${encodeURIComponent(model)}` : ''}`);
    // Another reviewer signed in meanwhile (another tab): this answer is not theirs to show.
    if (token !== state.token) return;
    if (status === 204 || !data) {
      idle('Nothing to review — refresh in a while.', model ? `No explanation of model “${model}” is waiting for review.` : 'Every sampled explanation has a verdict, is leased to another reviewer, or was skipped by you.');
      // The next backlog count is the baseline: when it rises, an item came, and the page loads it.
      state.emptyPending = -1;
      return;
    }
    render(data, response);
    // One live lease per reviewer: an item held from before (another tab) comes back whatever the filter.
    if (model && data.item.model !== model) {
      banner('info', `This is the item you already hold, of model “${data.item.model}”: judge or skip it, and the filter “${model}” applies from the next item.`);
    }
  } catch (error) {
    if (token !== state.token) return;
    report(error, 'Could not load the next item');
    // A broken item was set aside by the service: the next request gets another one.
    if (error instanceof ApiError && error.code === 'REVIEW_ITEM_BROKEN') idle('That item could not be shown.', 'It was set aside for an operator and will not come back; the next one is waiting.', 'Next item');
    else if (!(error instanceof SignedOut)) idle('Could not load an item.', 'See the message above; try again when the service is back.', 'Try again');
  } finally {
    state.loading = false;
    el.review.removeAttribute('aria-busy');
    // The reviewer changed while this was loading: load again, as them.
    if (token !== state.token && state.token) void loadNext();
    // After every verdict, skip, undo or reload (an empty queue's included): the count the reviewer sees moves with them.
    else void refreshBacklog();
  }
}

/** "N waiting" beside the title (of the model filter, when one is set); quietly hidden when it cannot be read. */
async function refreshBacklog() {
  if (!state.token) return;
  const asked = ++state.backlogAsked;
  const model = storage.get(storageKeys.model);
  try {
    const { data } = await api('GET', `/v1/reviews/backlog${model ? `?model=${encodeURIComponent(model)}` : ''}`);
    if (asked !== state.backlogAsked || !data) return;
    el.backlog.textContent = `${data.pending} waiting`;
    const oldest = data.oldestPendingAt === null ? '' : `; the oldest sampled ${new Date(data.oldestPendingAt).toISOString().slice(0, 16).replace('T', ' ')} UTC`;
    el.backlog.title = `${data.pending} waiting for a reviewer, ${data.leased} being reviewed${model ? ` (model “${model}”)` : ''}${oldest}`;
    el.backlog.hidden = document.body.dataset.view === 'signin';
    if (state.emptyPending !== null && document.body.dataset.view === 'idle') {
      if (state.emptyPending >= 0 && data.pending > state.emptyPending) void loadNext();
      else state.emptyPending = data.pending;
    }
  } catch (error) {
    if (asked !== state.backlogAsked) return;
    el.backlog.textContent = '';
    el.backlog.hidden = true;
    if (error instanceof SignedOut && document.body.dataset.view !== 'signin') signIn(error.message);
  }
}

/**
 * Whether a verdict or skip came too soon after the evidence shown changed (see inputGuardMs): it
 * was meant for the item before, or was never looked at. Ignored without a word.
 */
function tooSoon() {
  return Boolean(state.packet) && performance.now() - state.shownAt < inputGuardMs;
}

/** Says that the lease ran out and offers to load the item again; true when it did. */
function refusedAsLapsed() {
  if (!state.packet || !state.leaseLapsed) return false;
  leaseRanOut();
  return true;
}

async function judge(verdict) {
  if (!(verdict in verdicts) || refusedAsLapsed()) return;
  const unseen = state.packet && !state.sending && !state.loading ? unseenEvidence() : '';
  if (unseen) {
    banner('warn', unseen);
    return;
  }
  if (tooSoon()) return;
  const comment = el.comment.value.trim();
  await settle('', { verdict, ...(comment ? { comment } : {}) }, verdict, {
    done: (id) => ['ok', `Saved “${verdicts[verdict]}” for ${id}${comment ? ' with your comment' : ''}.`],
    kept: (id, data, response) => offerUndo(id, verdict, data?.undoUntil, response),
    lapsed: (id, code) =>
      `Your verdict on ${id} was NOT saved (${code}): the item is no longer leased to you (its lease ran out, or it was judged, skipped or released elsewhere). ${comment ? 'Your comment is kept for when it is shown to you again. ' : ''}Loading the next item.`,
    signedOut: (id) => `Your verdict on ${id} was NOT saved.${comment ? ' Your comment is kept for when the item is shown again.' : ''}`,
    busy: (id) =>
      `Your verdict on ${id} is NOT confirmed: another request on this item is being saved (an earlier try of this page that got no answer, or another tab), and this one changed nothing. Whether that one is kept is not known yet, so the item stays here: send your verdict again in a few seconds (up to a minute if that request died). A verdict kept already is answered as saved.`,
    failed: (id) => `Could not save the verdict on ${id}`,
  });
}

/** Gives the item back for another reviewer (not this reviewer's field); it will not come back to them. */
async function skip() {
  if (tooSoon() || refusedAsLapsed()) return;
  await settle('/skip', {}, 'skip', {
    done: (id) => ['info', `Skipped ${id}: it goes to another reviewer and will not come back to you.`],
    lapsed: (id, code) => `${id} was NOT skipped (${code}): it is no longer leased to you (its lease ran out, or it was judged, skipped or released elsewhere). Loading the next item.`,
    signedOut: (id) => `${id} was NOT skipped.`,
    busy: (id) => `${id} was NOT skipped: a verdict on it is being saved (an earlier try of this page that got no answer, or another tab). Whether it is kept is not known yet, so the item stays here: skip or judge it again in a few seconds.`,
    failed: (id) => `Could not skip ${id}`,
  });
}

/**
 * Sends what the reviewer decided about the item held (POST /v1/reviews/{id}{path}), then leases
 * the next. A 409 REVIEW_VERDICT_IN_PROGRESS means another request's verdict on the item is being
 * saved: this one changed nothing, and whether that one will be kept (and what it says) is not
 * known here, so the item stays, to be sent again (a verdict kept already is answered as saved,
 * the same verdict of a request that died goes through once its marker times out). Any other 409
 * means the lease lapsed or the item was closed elsewhere: nothing was kept, so say so and move
 * on. After any other failure the same verdict can be sent again: the service keeps it once.
 */
async function settle(path, body, sending, messages) {
  const packet = state.packet;
  if (!packet || state.sending || state.loading) return;
  const id = packet.item.inferenceId;
  const focused = document.activeElement;
  state.sending = true;
  setVerdictButtons(true, sending);
  try {
    const { data, response } = await api('POST', `/v1/reviews/${encodeURIComponent(id)}${path}`, body);
    drafts.set(id, state.reviewer, '');
    messages.kept?.(id, data, response);
    banner(...messages.done(id));
    state.sending = false;
    if (document.activeElement === el.comment) el.comment.blur();
    await loadNext();
    keepFocus(focused);
  } catch (error) {
    state.sending = false;
    setVerdictButtons(false);
    if (error instanceof ApiError && error.code === 'REVIEW_VERDICT_IN_PROGRESS') {
      // Another request's verdict (this page's earlier try that got no answer, or another tab's)
      // may yet fail or die: nothing is known to be kept, so the item is not given up.
      banner('warn', messages.busy(id));
      return;
    }
    if (error instanceof ApiError && error.status === 409) {
      banner('warn', messages.lapsed(id, error.code));
      await loadNext();
      keepFocus(focused);
      return;
    }
    if (error instanceof SignedOut) {
      signIn(`${error.message} ${messages.signedOut(id)}`);
      return;
    }
    report(error, messages.failed(id));
  }
}

/**
 * After a verdict or skip: when the element that had the focus (the button pressed, the comment)
 * lost it on the way, it goes to the verdicts of the item shown now, not to the page's body.
 */
function keepFocus(before) {
  if (el.review.hidden || !before || before === document.body) return;
  const now = document.activeElement;
  if (!now || now === document.body || (now instanceof HTMLButtonElement && now.disabled)) el.verdicts.focus({ preventScroll: true });
}

// ---- undo ----------------------------------------------------------------------------------

/** Offers to take the verdict back until `undoUntil` (the service's clock, read through its Date header). */
function offerUndo(id, verdict, undoUntil, response) {
  const left = typeof undoUntil === 'number' ? undoUntil - serverTime(response) : 0;
  if (left <= 0) return clearUndo();
  state.undo = { id, verdict, deadline: performance.now() + left };
  el.undo.replaceChildren(`Undo “${verdicts[verdict]}” `, h('kbd', { textContent: 'U' }));
  el.undo.title = `Take back your verdict on ${id}: it comes back to you for a new one`;
  el.undo.disabled = false;
  el.undo.hidden = false;
  fitBanner();
}

/**
 * The service's clock when it answered, read from the Date header. The header is truncated to the
 * second, so the service's time was up to 1 s later: a deadline counted from it is moved 1 s
 * earlier, so that the page never offers what the service would refuse.
 */
function serverTime(response) {
  const date = Date.parse(response.headers.get('date') ?? '');
  return Number.isFinite(date) ? date + 1000 : Date.now();
}

function clearUndo() {
  state.undo = null;
  el.undo.hidden = true;
  fitBanner();
}

function tickUndo() {
  if (state.undo && performance.now() >= state.undo.deadline) clearUndo();
}

/** Takes the last verdict back; the item comes back leased to this reviewer and is shown again. */
async function undo() {
  const last = state.undo;
  if (!last || state.sending || state.loading) return;
  state.sending = true;
  el.undo.disabled = true;
  setVerdictButtons(true);
  try {
    await api('POST', `/v1/reviews/${encodeURIComponent(last.id)}/undo`);
    clearUndo();
    banner('info', `Took back “${verdicts[last.verdict]}” on ${last.id}: it is shown again for a new verdict.`);
    state.sending = false;
    await loadNext();
  } catch (error) {
    state.sending = false;
    setVerdictButtons(false);
    if (error instanceof ApiError && error.code === 'REVIEW_NOT_REVIEWED') {
      // Already undone: an earlier try of this undo that got no answer (a timeout, a lost
      // connection) may have gone through. The item is then leased to this reviewer, and /next shows it.
      clearUndo();
      await loadNext();
      if (state.packet?.item.inferenceId === last.id) banner('info', `Took back “${verdicts[last.verdict]}” on ${last.id} (an earlier try of this undo, or another tab, took it back): it is shown again for a new verdict.`);
      // Unless loading failed: its error stays in the banner (the idle view points to it).
      else if (!el.banner.classList.contains('banner-error')) banner('warn', `Could not undo “${verdicts[last.verdict]}” on ${last.id} (${error.code}): ${error.message}`);
      return;
    }
    if (error instanceof ApiError && (error.status === 409 || error.status === 404)) {
      // Too late, or no longer this reviewer's verdict to take back: the verdict stands.
      clearUndo();
      banner('warn', `Could not undo “${verdicts[last.verdict]}” on ${last.id} (${error.code}): ${error.message}`);
      return;
    }
    el.undo.disabled = false;
    report(error, `Could not undo the verdict on ${last.id}`);
  }
}

function setVerdictButtons(disabled, sending) {
  // Skip stays: it is the way on from an item whose images did not load.
  for (const button of el.verdictButtons) {
    button.disabled = disabled || state.failedImages.size > 0 || state.leaseLapsed;
    button.classList.toggle('is-sending', button.dataset.verdict === sending);
    button.classList.toggle('is-picked', button.dataset.verdict === state.picked);
  }
  el.skip.disabled = disabled || state.leaseLapsed;
  el.skip.classList.toggle('is-sending', sending === 'skip');
}

function pick(verdict) {
  state.picked = verdict;
  setVerdictButtons(false);
  el.comment.focus();
  banner('info', `“${verdicts[verdict]}” picked: write the comment, then Ctrl/⌘+Enter sends both.`);
}

// ---- rendering -----------------------------------------------------------------------------

function render(packet, response) {
  state.packet = packet;
  const { item, manifest, urls } = packet;
  const explanations = manifest.explanations;
  const predicted = explanations.findIndex((e) => e.classIndex === manifest.prediction.classIndex);
  state.current = Math.max(0, predicted);

  state.leaseDeadline = leaseDeadline(item, response);
  state.leaseLapsed = false;
  state.shownAt = performance.now();

  state.failedImages = new Set();
  if (state.failedBanner) banner('info', '');
  state.failedBanner = false;

  const ratio = `${manifest.input.width} / ${manifest.input.height}`;
  el.inputStage.style.aspectRatio = ratio;
  el.overlayStage.style.aspectRatio = ratio;
  el.inputImage.src = urls.image;
  el.overlayBase.src = urls.image;
  el.inputMeta.textContent = `${manifest.input.width}×${manifest.input.height} ${manifest.input.format}`;
  // Every overlay starts loading now (kept until the next item), so switching method or class is
  // instant, and one that cannot be loaded is known before the reviewer gets to it.
  state.prefetched = explanations.map((entry) => {
    const url = urls[entry.overlay.path] ?? '';
    const image = new Image();
    image.addEventListener('error', () => state.packet === packet && imageFailed(url));
    image.src = url;
    return image;
  });

  el.predictionLabel.textContent = item.label;
  el.predictionProbability.textContent = percent(item.probability);
  renderDetails(packet);
  // A draft of another reviewer who signed in at this tab before is theirs: dropped, never shown.
  state.reviewer = item.leasedBy ?? '';
  drafts.keepOnly(state.reviewer);
  el.comment.value = drafts.get(item.inferenceId, state.reviewer);
  el.reviewer.textContent = item.leasedBy ? `Reviewing as ${item.leasedBy}` : '';
  el.reviewer.hidden = !item.leasedBy;
  setVerdictButtons(false);
  show('review');
  renderExplanation();
  tickLease();
}

// ---- images that do not load ---------------------------------------------------------------

/** What the reviewer would call the image at `url` of the item shown, or '' for a URL of no image of it. */
function imageName(url) {
  const { manifest, urls } = state.packet;
  if (url === urls.image) return 'the input image';
  const entry = manifest.explanations.find((e) => urls[e.overlay.path] === url);
  return entry ? `the ${entry.method} heatmap of ${entry.label}` : '';
}

/**
 * An image of the item could not be loaded (removed or replaced in storage after the item was
 * handed out, or the network): the reviewer cannot see the evidence, so no verdict can be sent on
 * it until the item is loaded again (R, with fresh links; the service sets it aside if a file is
 * gone) or skipped (S).
 */
function imageFailed(url) {
  if (!state.packet || !url || state.failedImages.has(url) || !imageName(url)) return;
  state.failedImages.add(url);
  const names = [...state.failedImages].map(imageName);
  const listed = names.length > 2 ? `${names[0]} and ${names.length - 1} other images` : names.join(' and ');
  banner('warn', `Could not load ${listed} of ${state.packet.item.inferenceId}: no verdict can be sent on evidence you cannot see. Press R to load the item again, or S to skip it.`);
  state.failedBanner = true;
  if (!state.sending) setVerdictButtons(false);
  renderImageErrors();
}

/** A message in place of each image shown that failed. */
function renderImageErrors() {
  const { manifest, urls } = state.packet;
  const overlayUrl = urls[manifest.explanations[state.current].overlay.path] ?? '';
  for (const [node, url] of [[el.inputError, urls.image], [el.overlayError, overlayUrl]]) {
    const failed = state.failedImages.has(url);
    node.hidden = !failed;
    if (failed) node.replaceChildren(`Could not load ${imageName(url)}.`, h('small', { textContent: 'It may have been removed or replaced in storage. No verdict can be sent: R loads the item again, S skips it.' }));
  }
}

/** Why a verdict cannot be sent yet ('' when it can): an image that failed, or the input or the heatmap shown not loaded yet. */
function unseenEvidence() {
  const id = state.packet.item.inferenceId;
  if (state.failedImages.size > 0) return `No verdict sent: some of the images of ${id} could not be loaded. Press R to load the item again, or S to skip it.`;
  const loaded = (image) => image.complete && image.naturalWidth > 0;
  if (!loaded(el.inputImage) || !loaded(el.overlayImage)) return `No verdict sent: the images of ${id} are still loading. Look at them first.`;
  return '';
}

function renderExplanation() {
  const { manifest, urls } = state.packet;
  const explanations = manifest.explanations;
  const entry = explanations[state.current];
  el.overlayImage.src = urls[entry.overlay.path] ?? '';
  el.overlayImage.alt = `${entry.method} heatmap for class ${entry.label}`;
  el.overlayMeta.textContent = `${entry.method} · ${entry.label} ${percent(entry.probability)}`;
  renderImageErrors();

  const methods = [...new Set(explanations.map((e) => e.method))];
  const classes = [...new Map(explanations.map((e) => [e.classIndex, e])).values()];
  el.methods.replaceChildren(
    ...methods.map((method) =>
      h('button', { type: 'button', className: 'tab', textContent: method, 'aria-pressed': method === entry.method, onclick: () => select(method, entry.classIndex) }),
    ),
  );
  el.classes.replaceChildren(
    ...classes.map((e) =>
      h('button', { type: 'button', className: 'tab', 'aria-pressed': e.classIndex === entry.classIndex, onclick: () => select(entry.method, e.classIndex) },
        // The space makes the button's name "Neutral 98%", not "Neutral98%".
        e.label,
        ' ',
        h('span', { className: 'tab-score', textContent: percent(e.probability, 0) }),
      ),
    ),
  );
  const stats = entry.map;
  el.mapStats.textContent = `Map ${stats.width}×${stats.height} · border mass ${stats.borderMass.toFixed(2)} · entropy ${stats.entropy.toFixed(2)} · explanation ${state.current + 1} of ${explanations.length}`;
  renderTopScores(entry.classIndex);
}

function renderTopScores(shownClass) {
  const { manifest } = state.packet;
  const labels = manifest.model.labels;
  const top = manifest.prediction.probabilities
    .map((p, index) => ({ p, index }))
    .sort((a, b) => b.p - a.p)
    .slice(0, 5);
  el.topScores.replaceChildren(
    ...top.map(({ p, index }) =>
      h('li', { className: ['bar', index === manifest.prediction.classIndex && 'is-predicted', index === shownClass && 'is-shown'].filter(Boolean).join(' ') },
        h('span', { className: 'bar-label', textContent: labels[index] ?? `class ${index}` }),
        h('span', { className: 'bar-track', 'aria-hidden': 'true' }, h('span', { className: 'bar-fill', style: `width: ${Math.max(0.5, p * 100).toFixed(1)}%` })),
        h('span', { className: 'bar-value', textContent: percent(p) }),
      ),
    ),
  );
}

function renderDetails({ item, manifest }) {
  const sampling = item.sampling;
  const rows = [
    ['Inference', h('code', { textContent: item.inferenceId })],
    ['Model', `${manifest.model.name} · ${manifest.model.version}`],
    ['Sampled because', [sampling.reason, sampling.detail].filter(Boolean).join(' — ')],
    ['Policy', sampling.term && sampling.term !== sampling.policy ? `${sampling.policy} (term ${sampling.term})` : sampling.policy],
    ['Priority', sampling.priority.toFixed(3)],
    ['Engine', `${manifest.engine.backend} · layer ${manifest.model.targetLayer}`],
    ['Lease', h('span', { id: 'lease', className: 'lease' })],
  ];
  el.details.replaceChildren(...rows.flatMap(([term, value]) => [h('dt', { textContent: term }), h('dd', {}, value)]));
}

function tickLease() {
  const node = document.getElementById('lease');
  if (!node || !state.packet) return;
  if (!Number.isFinite(state.leaseDeadline)) {
    node.textContent = 'no deadline given';
    return;
  }
  // Rounded up: "0:00" only once the lease has run out.
  const left = Math.max(0, Math.ceil((state.leaseDeadline - performance.now()) / 1000));
  node.textContent = left === 0 ? 'expired — a verdict will be refused' : `${Math.floor(left / 60)}:${String(left % 60).padStart(2, '0')} left`;
  node.classList.toggle('is-short', left < 60);
  if (left === 0 && !state.leaseLapsed && !state.sending && !state.loading) leaseRanOut();
}

/**
 * The lease ran out (by the page's count, from the service's clock): a verdict would be refused,
 * so none can be sent; loading again leases the item anew when nobody else took it (or hands out
 * the next). A comment typed stays as the item's draft.
 */
function leaseRanOut() {
  state.leaseLapsed = true;
  state.picked = null;
  setVerdictButtons(false);
  const id = state.packet.item.inferenceId;
  banner('warn', `The lease on ${id} ran out: a verdict would be refused, so none can be sent. Load again (R) to get it back, if nobody else has taken it, or the next item.${el.comment.value.trim() ? ' Your comment is kept.' : ''}`);
  state.failedBanner = true;
}

/** When the lease on `item` runs out, in performance.now() time, counted from the server's clock (Date header), not the browser's. */
function leaseDeadline(item, response) {
  return typeof item.leaseExpiresAt === 'number' ? performance.now() + Math.max(0, item.leaseExpiresAt - serverTime(response)) : Number.POSITIVE_INFINITY;
}

/**
 * Another tab of this reviewer left while showing the item this one shows, and gave it back as it
 * went: lease it again (GET /next hands a reviewer back the item they hold, and the next of its
 * model otherwise, most likely this one). The same item stays as it is shown, with its new lease;
 * another (taken by another reviewer meanwhile, or leased by that tab reloaded) is shown instead.
 */
async function leaseAgain(id) {
  if (state.packet?.item.inferenceId !== id) return;
  if (state.loading || state.sending) {
    // What is on its way may have been answered before the release landed: ask again after it.
    state.releaseTimer = setTimeout(() => void leaseAgain(id), releaseSettleMs);
    return;
  }
  const token = state.token;
  const model = state.packet.item.model;
  state.loading = true;
  try {
    const { status, data, response } = await api('GET', `/v1/reviews/next?model=${encodeURIComponent(model)}`);
    if (token !== state.token || state.packet?.item.inferenceId !== id) return;
    if (status === 200 && data?.item.inferenceId === id) {
      state.packet.item = data.item;
      state.leaseDeadline = leaseDeadline(data.item, response);
      if (state.leaseLapsed) {
        state.leaseLapsed = false;
        state.failedBanner = false;
        banner('info', '');
        setVerdictButtons(false);
      }
      tickLease();
      return;
    }
    if (status === 200 && data) {
      render(data, response);
      banner('info', `Another tab of yours gave ${id} back as it closed, and it could not be leased again (another reviewer took it, or that tab, reloaded, leased another): this is the item you hold now.`);
      return;
    }
    state.loading = false;
    state.packet = null;
    await loadNext();
    if (!el.banner.classList.contains('banner-error')) banner('info', `Another tab of yours gave ${id} back as it closed, and another reviewer took it.`);
  } catch (error) {
    if (token === state.token) report(error, `Could not lease ${id} again after another tab gave it back`);
  } finally {
    state.loading = false;
    // Another reviewer signed in meanwhile (adoptToken found this tab loading): load as them.
    if (token !== state.token && state.token) void loadNext();
  }
}

/**
 * Another tab signed out (token: '') or in with another token: this tab goes with it, showing
 * nothing of the reviewer before (their item, their comment) to the one now signed in.
 */
function adoptToken(token) {
  state.token = token;
  clearUndo();
  el.comment.value = '';
  if (!token) {
    signIn('Signed out in another tab of this page (or the token was refused there). Enter a reviewer token to go on.');
    return;
  }
  dropItem();
  show('loading');
  banner('info', 'Another reviewer token was entered in another tab of this page: this tab goes on with it.');
  void loadNext();
}

// ---- switching explanations ----------------------------------------------------------------

function select(method, classIndex) {
  const explanations = state.packet.manifest.explanations;
  const exact = explanations.findIndex((e) => e.method === method && e.classIndex === classIndex);
  const index = exact >= 0 ? exact : explanations.findIndex((e) => e.method === method);
  if (index >= 0 && index !== state.current) {
    state.current = index;
    renderExplanation();
  }
}

function step(delta) {
  const count = state.packet.manifest.explanations.length;
  if (count < 2) return;
  state.current = (state.current + delta + count) % count;
  renderExplanation();
}

/** The next method (same class) or the next class (same method), wrapping around. */
function cycle(kind, delta) {
  const explanations = state.packet.manifest.explanations;
  const entry = explanations[state.current];
  if (kind === 'method') {
    const methods = [...new Set(explanations.map((e) => e.method))];
    select(methods[(methods.indexOf(entry.method) + delta + methods.length) % methods.length], entry.classIndex);
  } else {
    const classes = [...new Set(explanations.map((e) => e.classIndex))];
    select(entry.method, classes[(classes.indexOf(entry.classIndex) + delta + classes.length) % classes.length]);
  }
}

function setOpacity(value, remember = true) {
  const opacity = Math.min(1, Math.max(0, Math.round(value * 20) / 20));
  el.opacity.value = String(opacity);
  el.overlayImage.style.opacity = String(opacity);
  el.opacityValue.textContent = `${Math.round(opacity * 100)}%`;
  el.opacity.setAttribute('aria-valuetext', el.opacityValue.textContent);
  if (remember) storage.set(storageKeys.opacity, String(opacity));
}

// ---- keyboard ------------------------------------------------------------------------------

function onKeyDown(event) {
  if (event.defaultPrevented || event.isComposing) return;
  const target = /** @type {HTMLElement} */ (event.target);
  if (target === el.comment) {
    if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      if (state.picked) void judge(state.picked);
      else banner('info', 'Pick the verdict for this comment: Esc, then 1–4 (or Shift+1–4 before Ctrl/⌘+Enter).');
    } else if (event.key === 'Escape') {
      event.preventDefault();
      el.verdicts.focus();
    }
    return;
  }
  // Other text fields keep their keys; the opacity slider keeps its arrows.
  if (target.matches('input:not([type=range]), textarea, select, [contenteditable]')) return;
  if (event.ctrlKey || event.metaKey || event.altKey) return;

  // A key held down repeats: it decides one item, never the ones shown after it.
  const once = /^(Digit[1-4]|KeyS|KeyU)$/.test(event.code) || /^[1-4su]$/i.test(event.key);
  if (event.repeat && once) {
    event.preventDefault();
    return;
  }

  if (state.packet && !el.review.hidden) {
    const digit = /^Digit([1-4])$/.exec(event.code)?.[1] ?? (/^[1-4]$/.test(event.key) ? event.key : undefined);
    if (digit) {
      event.preventDefault();
      if (event.shiftKey) pick(verdictByKey[digit]);
      else void judge(verdictByKey[digit]);
      return;
    }
    const onSlider = target === el.opacity;
    const key = event.key.length === 1 ? event.key.toLowerCase() : event.key;
    const actions = {
      ArrowRight: onSlider ? undefined : () => step(1),
      ArrowLeft: onSlider ? undefined : () => step(-1),
      m: () => cycle('method', event.shiftKey ? -1 : 1),
      c: () => cycle('class', event.shiftKey ? -1 : 1),
      '[': () => setOpacity(Number(el.opacity.value) - 0.1),
      ']': () => setOpacity(Number(el.opacity.value) + 0.1),
      '/': () => el.comment.focus(),
      s: () => void skip(),
      u: () => void undo(),
      // The item held comes back with fresh links (or is set aside by the service when a file is gone).
      r: state.failedImages.size > 0 || state.leaseLapsed ? () => void loadNext() : undefined,
    };
    const action = actions[key];
    if (action) {
      event.preventDefault();
      action();
    }
    return;
  }
  if (!el.idle.hidden && event.key.toLowerCase() === 'r') {
    event.preventDefault();
    void loadNext();
  } else if (!el.idle.hidden && event.key.toLowerCase() === 'u' && state.undo) {
    event.preventDefault();
    void undo();
  }
}

// ---- wiring --------------------------------------------------------------------------------

el.signinForm.addEventListener('submit', (event) => {
  event.preventDefault();
  const token = el.token.value.trim();
  if (!token) return;
  state.token = token;
  storage.set(storageKeys.token, token);
  el.token.value = '';
  void loadNext();
});
/**
 * Hands the item this page holds back to the pool at once rather than when its lease runs out.
 * `keepalive` lets the request outlive the page when it is being closed; a failure only means
 * the lease runs its course.
 */
function releaseHeld() {
  const token = state.token;
  const id = state.packet?.item.inferenceId;
  if (!token || !id) return;
  void fetch(`/v1/reviews/${encodeURIComponent(id)}/release`, { method: 'POST', keepalive: true, headers: { authorization: `Bearer ${token}` } }).catch(() => {});
}

el.signOut.addEventListener('click', () => {
  const held = Boolean(state.packet);
  releaseHeld();
  state.token = '';
  storage.set(storageKeys.token, '');
  drafts.keepOnly(null);
  signIn(held ? 'Enter another reviewer token. (The item you held went back to the queue.)' : 'Enter another reviewer token.');
});
// Closing or reloading this tab always gives its item back (a tab that is discarded or crashes
// says nothing, so no tab may count on another to do it); another tab of the same reviewer that
// shows the item still leases it again (see leaseAgain).
window.addEventListener('pagehide', () => {
  const id = state.packet?.item.inferenceId;
  if (!id) return;
  releaseHeld();
  tabs?.postMessage({ type: 'gone', tab: tabId, reviewer: state.reviewer, id });
});
// Back from the back-forward cache: the item was released when the page was left; lease again.
window.addEventListener('pageshow', (event) => {
  if (event.persisted && state.packet) void loadNext();
});
tabs?.addEventListener('message', (event) => {
  const message = event.data;
  if (!message || message.tab === tabId || message.type !== 'gone') return;
  // Another reviewer's tabs (signed in before in another tab) are none of this one's business.
  if (!state.packet || message.reviewer !== state.reviewer || message.id !== state.packet.item.inferenceId) return;
  clearTimeout(state.releaseTimer);
  state.releaseTimer = setTimeout(() => void leaseAgain(message.id), releaseSettleMs);
});
// The token is shared by every tab (localStorage): when another tab signs out or signs in with
// another, this one follows, so that nothing is done here as a reviewer it does not show.
window.addEventListener('storage', (event) => {
  if (event.key !== storageKeys.token && event.key !== null) return;
  const token = storage.get(storageKeys.token);
  if (token !== state.token) adoptToken(token);
});
el.filterForm.addEventListener('submit', (event) => {
  event.preventDefault();
  const model = el.modelFilter.value.trim();
  storage.set(storageKeys.model, model);
  void refreshBacklog();
  if (state.packet) banner('info', `Model filter ${model ? `“${model}”` : 'cleared'}: it applies from the next item.`);
  else {
    banner('info', '');
    void loadNext();
  }
});
el.idleAction.addEventListener('click', () => void loadNext());
for (const button of el.verdictButtons) button.addEventListener('click', () => void judge(button.dataset.verdict ?? ''));
el.skip.addEventListener('click', () => void skip());
el.undo.addEventListener('click', () => void undo());
el.loadAgain.addEventListener('click', () => void loadNext());
el.comment.addEventListener('input', () => state.packet && drafts.set(state.packet.item.inferenceId, state.reviewer, el.comment.value));
el.opacity.addEventListener('input', () => setOpacity(Number(el.opacity.value)));
// The evidence shown changed: a verdict or skip right now was not made on it (see inputGuardMs).
for (const image of [el.inputImage, el.overlayImage]) image.addEventListener('load', () => (state.shownAt = performance.now()));
for (const image of [el.inputImage, el.overlayBase, el.overlayImage]) {
  // Only a failure of the URL it shows now: one of an earlier src may be reported after it changed.
  image.addEventListener('error', () => image.complete && image.naturalWidth === 0 && imageFailed(image.getAttribute('src') ?? ''));
}
document.addEventListener('keydown', onKeyDown);
setInterval(() => {
  tickLease();
  tickUndo();
}, 1000);
// The count also moves with other reviewers: every 30 s, and at once when the reviewer comes back to the tab.
setInterval(() => void refreshBacklog(), 30_000);
window.addEventListener('focus', () => void refreshBacklog());

el.modelFilter.value = storage.get(storageKeys.model);
const savedOpacity = Number.parseFloat(storage.get(storageKeys.opacity));
setOpacity(Number.isFinite(savedOpacity) ? savedOpacity : 0.7, false);
state.token = storage.get(storageKeys.token);
if (state.token) void loadNext();
else signIn('');
