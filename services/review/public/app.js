// The review page: lease an explanation, show the image next to its heatmap, record a verdict,
// go on to the next. Plain DOM, no dependencies, nothing loaded from outside this service.

import { storageKeys, inputGuardMs, tabs, releaseSettleMs, tabId, verdicts, verdictByKey, el, state, SignedOut, ApiError, h, keyed, storage, drafts, banner, fitBanner, show } from './page-kit.js';
import { serverTime, setVerdictButtons, render, imageFailed, unseenEvidence, tickLease, leaseRanOut, heldAgain, laterLeaseTold, askingLease, forgetToldLease, select, step, cycle, setOpacity } from './page-render.js';

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
    throw new ApiError(response.status, error?.code ?? `HTTP_${response.status}`, error?.message ?? (text.slice(0, 200) || response.statusText), error?.details, response);
  }
  return { status: response.status, data, response };
}

/** No item shown any more (signed out, nothing to review): no lease to count, none to lease again. */
function dropItem() {
  state.packet = null;
  state.leaseLapsed = false;
  state.leaseWarned = '';
  clearTimeout(state.releaseTimer);
  el.loadAgain.hidden = true;
  el.moreTime.hidden = true;
  fitBanner();
}

/**
 * Back to the token prompt. `reason`: why, when it is an error (a refused token), said as an alert
 * in the prompt; `note`: what happened, when it is none (the reviewer signed out), said in the
 * page's status line, which a screen reader hears as it does every status, in its neutral style.
 */
function signIn(reason, note = '') {
  state.token = '';
  dropItem();
  clearUndo();
  el.signinReason.hidden = !reason;
  el.signinReason.textContent = reason ?? '';
  el.reviewer.hidden = true;
  banner('info', note);
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
  // R presses this button: the footer calls it by its name ("R refresh"), not the item view's "load again".
  el.keysR.textContent = action.toLowerCase();
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
    const askedAt = askingLease();
    const { status, data, response } = await api('GET', `/v1/reviews/next${model ? `?model=${encodeURIComponent(model)}` : ''}`);
    // Another reviewer signed in meanwhile (another tab): this answer is not theirs to show.
    if (token !== state.token) return;
    if (status === 204 || !data) {
      nothingText = model ? `No explanation of model “${model}” is waiting for review.` : 'Every sampled explanation has a verdict, is leased to another reviewer, or was skipped by you.';
      // Not "refresh in a while": the page loads the next item by itself (see refreshBacklog).
      idle('Nothing to review right now.', nothingText + newItemShown);
      // The next backlog count is the baseline: when it rises, an item came, and the page loads it.
      state.emptyPending = -1;
      return;
    }
    render(data, response, askedAt);
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

/** What the nothing-to-review screen says (before waitingSkipped and newItemShown). */
let nothingText = '';
/** Anything new that comes raises the backlog count, and the page loads it (refreshBacklog): the reviewer need not. */
const newItemShown = ' A new item is shown here when one comes.';

/**
 * Why the header says "N waiting" while there is nothing to review: /next handed this reviewer
 * nothing, so what waits is what they skipped (kept away from them for 7 days).
 */
function waitingSkipped(pending) {
  if (pending <= 0) return '';
  return pending === 1 ? ' The 1 waiting is an item you skipped: it is left for other reviewers.' : ` The ${pending} waiting are items you skipped: they are left for other reviewers.`;
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
      else {
        state.emptyPending = data.pending;
        el.idleText.textContent = nothingText + waitingSkipped(data.pending) + newItemShown;
      }
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
  // The explanation on screen as the verdict is sent: the service keeps it with the verdict.
  const entry = state.packet?.manifest.explanations[state.current];
  const shown = entry ? { method: entry.method, classIndex: entry.classIndex } : undefined;
  await settle('', { verdict, ...(comment ? { comment } : {}), ...(shown ? { shown } : {}) }, verdict, {
    done: (id) => ['ok', `Saved “${verdicts[verdict]}” for ${id}${comment ? ' with your comment' : ''}.`],
    kept: (id, data, response) => offerUndo(id, verdict, data?.undoUntil, response, comment),
    lapsed: (id, code) =>
      `Your verdict on ${id} was NOT saved (${code}): the item is no longer leased to you (its lease ran out, or it was judged, skipped or released elsewhere). ${comment ? 'Your comment is kept for when it is shown to you again. ' : ''}Loading the next item.`,
    // This reviewer's verdict on it was kept already (an earlier try whose answer was lost, or another tab): say which, and offer its undo.
    judged: (id, error) => {
      const kept = error.details?.verdict;
      const undoable = offerUndo(id, kept, error.details?.undoUntil, error.response);
      return `Your verdict “${verdicts[verdict]}” on ${id} was NOT saved: you judged it already (an earlier try whose answer was lost, or another tab), and “${verdicts[kept] ?? kept}” is kept. ${
        undoable ? `Undo it${keyed(' (U)', '')} to give another verdict. ` : 'It can no longer be undone. '
      }${comment ? 'Your comment is kept for when the item is shown to you again. ' : ''}Loading the next item.`;
    },
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

/** A review service of the version before refuses a verdict's `shown` as an unknown key (400 REQUEST_INVALID). */
function refusesShown(error) {
  return error instanceof ApiError && error.status === 400 && error.code === 'REQUEST_INVALID' && /Unrecognized key.*"shown"/.test(error.message);
}

/**
 * Sends what the reviewer decided about the item held (POST /v1/reviews/{id}{path}), then leases
 * the next. A 409 REVIEW_VERDICT_IN_PROGRESS means another request's verdict on the item is being
 * saved: this one changed nothing, and whether that one will be kept (and what it says) is not
 * known here, so the item stays, to be sent again (a verdict kept already is answered as saved,
 * the same verdict of a request that died goes through once its marker times out). A 409
 * REVIEW_ALREADY_JUDGED means this reviewer's own verdict on it was kept already (an earlier try
 * whose answer was lost, or another tab): say which verdict stands, offer its undo, move on. Any
 * other 409 means the lease lapsed or the item was closed elsewhere: nothing was kept, so say so
 * and move on. After any other failure the same verdict can be sent again: the service keeps it once.
 */
async function settle(path, body, sending, messages) {
  const packet = state.packet;
  if (!packet || state.sending || state.loading) return;
  const id = packet.item.inferenceId;
  const focused = document.activeElement;
  state.sending = true;
  setVerdictButtons(true, sending);
  try {
    const url = `/v1/reviews/${encodeURIComponent(id)}${path}`;
    const { data, response } = await api('POST', url, body).catch((error) => {
      if (!(body?.shown && refusesShown(error))) throw error;
      // A replica of the version before (a rolling upgrade) takes no `shown` and refused the
      // request before doing anything: the verdict goes again without it.
      const { shown: _shown, ...plain } = body;
      return api('POST', url, plain);
    });
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
    if (error instanceof ApiError && error.code === 'REVIEW_ALREADY_JUDGED' && messages.judged && error.details?.verdict in verdicts) {
      banner('warn', messages.judged(id, error));
      await loadNext();
      keepFocus(focused);
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
 * After a verdict, skip, undo or load: when the element that had the focus (the button pressed,
 * the comment, the verdicts group) lost it on the way (disabled, or hidden with its view: Undo,
 * Load again, Refresh, the verdicts on the last item), it goes to the verdicts of the item shown
 * now, or to the idle view's action when nothing is left to review, not to the page's body, where
 * a keyboard or screen reader user loses their place. An element hidden keeps the focus until
 * Chromium's next rendering update moves it to the body: by then this check has run, so one no
 * longer rendered counts as lost already.
 */
function keepFocus(before) {
  if (!before || before === document.body) return;
  const now = document.activeElement;
  if (now && now !== document.body && !(now instanceof HTMLButtonElement && now.disabled) && rendered(now)) return;
  if (!el.review.hidden) el.verdicts.focus({ preventScroll: true });
  else if (!el.idle.hidden) el.idleAction.focus({ preventScroll: true });
}

/** Whether `node` is rendered (neither it nor an ancestor hidden): one that is not cannot keep the focus. */
function rendered(node) {
  return typeof node.checkVisibility === 'function' ? node.checkVisibility() : node.getClientRects().length > 0;
}

/** Loads the next item for a button pressed (Refresh, Load again), keeping the focus on the page. */
async function loadNextFrom(button) {
  await loadNext();
  keepFocus(button);
}

// ---- undo ----------------------------------------------------------------------------------

/**
 * Offers to take the verdict back until `undoUntil` (the service's clock, read through its Date
 * header); whether it is offered. `comment`: the one sent with it, put back in the box if it is
 * taken back (the reviewer undoes to change the verdict, not to write the comment again).
 */
function offerUndo(id, verdict, undoUntil, response, comment = '') {
  const left = typeof undoUntil === 'number' && response ? undoUntil - serverTime(response) : 0;
  if (left <= 0) {
    clearUndo();
    return false;
  }
  state.undo = { id, verdict, comment, deadline: performance.now() + left };
  el.undo.replaceChildren(`Undo “${verdicts[verdict]}” `, h('kbd', { textContent: 'U' }));
  el.undo.title = `Take back your verdict on ${id}: it comes back to you for a new one`;
  el.undo.disabled = false;
  el.undo.hidden = false;
  fitBanner();
  return true;
}


/** The comment sent with a verdict taken back becomes the item's draft again (unless one was typed on it since), so that it is shown with it. */
function restoreComment(last) {
  if (last.comment && !drafts.get(last.id, state.reviewer)) drafts.set(last.id, state.reviewer, last.comment);
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
  const focused = document.activeElement;
  state.sending = true;
  el.undo.disabled = true;
  setVerdictButtons(true);
  try {
    await api('POST', `/v1/reviews/${encodeURIComponent(last.id)}/undo`);
    clearUndo();
    restoreComment(last);
    banner('info', `Took back “${verdicts[last.verdict]}” on ${last.id}: it is shown again for a new verdict.`);
    state.sending = false;
    await loadNext();
    keepFocus(focused);
  } catch (error) {
    state.sending = false;
    setVerdictButtons(false);
    if (error instanceof ApiError && error.code === 'REVIEW_NOT_REVIEWED') {
      // Already undone: an earlier try of this undo that got no answer (a timeout, a lost
      // connection) may have gone through. The item is then leased to this reviewer, and /next shows it.
      clearUndo();
      restoreComment(last);
      await loadNext();
      keepFocus(focused);
      if (state.packet?.item.inferenceId === last.id) banner('info', `Took back “${verdicts[last.verdict]}” on ${last.id} (an earlier try of this undo, or another tab, took it back): it is shown again for a new verdict.`);
      // Unless loading failed: its error stays in the banner (the idle view points to it).
      else if (!el.banner.classList.contains('banner-error')) banner('warn', `Could not undo “${verdicts[last.verdict]}” on ${last.id} (${error.code}): ${error.message}`);
      return;
    }
    if (error instanceof ApiError && (error.status === 409 || error.status === 404)) {
      // Too late, or no longer this reviewer's verdict to take back: the verdict stands.
      clearUndo();
      banner('warn', `Could not undo “${verdicts[last.verdict]}” on ${last.id} (${error.code}): ${error.message}`);
      keepFocus(focused);
      return;
    }
    el.undo.disabled = false;
    report(error, `Could not undo the verdict on ${last.id}`);
  }
}

function pick(verdict) {
  state.picked = verdict;
  setVerdictButtons(false);
  el.comment.focus();
  banner('info', `“${verdicts[verdict]}” picked: write the comment, then Ctrl/⌘+Enter sends both.`);
}

/**
 * More time (E), offered in the lease's last minute (leaseWarnMs): renews the lease on the item
 * shown. Refused because the lease is no longer this reviewer's (409 REVIEW_NOT_LEASED: it ran
 * out, or was released elsewhere), it is said as a lease that ran out (Load again); another
 * failure is reported, and More time stays offered.
 */
async function extendLease() {
  const id = state.packet?.item.inferenceId;
  if (!id || !state.leaseWarned || state.leaseLapsed || state.loading || state.sending) return;
  const token = state.token;
  const focused = document.activeElement;
  state.loading = true;
  try {
    const askedAt = askingLease();
    const { data, response } = await api('POST', `/v1/reviews/${encodeURIComponent(id)}/renew`);
    if (token !== state.token || state.packet?.item.inferenceId !== id) return;
    heldAgain(data.item, response, askedAt);
    banner('ok', `More time on ${id}: its lease was renewed (${document.getElementById('lease')?.textContent ?? ''}).`);
  } catch (error) {
    if (token !== state.token || state.packet?.item.inferenceId !== id) return;
    if (error instanceof ApiError && error.code === 'REVIEW_NOT_LEASED') leaseRanOut();
    else report(error, `Could not renew the lease on ${id}`);
  } finally {
    state.loading = false;
    // Another reviewer signed in meanwhile (adoptToken found this tab loading): load as them.
    if (token !== state.token && state.token) void loadNext();
    else keepFocus(focused);
  }
}

/**
 * Another tab of this reviewer left while showing the item this one shows, and gave it back as it
 * went (a release bound to the lease it was handed): renew the lease, which that release, landing
 * late, then cannot take back. When it is no longer this reviewer's live lease (409: the release
 * landed first, or a verdict on it is being kept), or the renewal failed, lease it again (GET /next
 * hands a reviewer back the item they hold, renewed, and the next of its model otherwise, most
 * likely this one). The same item stays as it is shown, with its new lease; another (taken by
 * another reviewer meanwhile, or leased by that tab reloaded) is shown instead.
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
    // Refused (409), or failed on its way (its answer lost: it may have renewed all the same):
    // /next then answers the lease as it stands, renewed again, or the next item.
    const renewAskedAt = askingLease();
    const renewed = await api('POST', `/v1/reviews/${encodeURIComponent(id)}/renew`).catch((error) => {
      if (error instanceof SignedOut) throw error;
      return null;
    });
    if (token !== state.token || state.packet?.item.inferenceId !== id) return;
    if (renewed?.data) return heldAgain(renewed.data.item, renewed.response, renewAskedAt);
    const nextAskedAt = askingLease();
    const { status, data, response } = await api('GET', `/v1/reviews/next?model=${encodeURIComponent(model)}`);
    if (token !== state.token || state.packet?.item.inferenceId !== id) return;
    if (status === 200 && data?.item.inferenceId === id) return heldAgain(data.item, response, nextAskedAt);
    if (status === 200 && data) {
      render(data, response, nextAskedAt);
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
    // Said as what happened, in the neutral status line as for this tab's own sign-out: nothing
    // went wrong here (a token refused in that tab is that tab's error, said there).
    signIn('', 'Signed out in another tab of this page. Enter a reviewer token to go on.');
    return;
  }
  dropItem();
  show('loading');
  banner('info', 'Another reviewer token was entered in another tab of this page: this tab goes on with it.');
  void loadNext();
}

// ---- keyboard ------------------------------------------------------------------------------

function onKeyDown(event) {
  if (event.defaultPrevented || event.isComposing) return;
  const target = /** @type {HTMLElement} */ (event.target);
  if (target === el.comment) {
    if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      if (state.picked) void judge(state.picked);
      else if (state.shortcutKeys) banner('info', 'Pick the verdict for this comment: Esc, then 1–4 (or Shift+1–4 before Ctrl/⌘+Enter).');
      else banner('info', 'Pick the verdict for this comment: its button, above the comment, sends both.');
    } else if (event.key === 'Escape') {
      event.preventDefault();
      el.verdicts.focus();
    }
    return;
  }
  // Other text fields keep their keys; the opacity slider keeps its arrows.
  if (target.matches('input:not([type=range]), textarea, select, [contenteditable]')) return;
  if (event.ctrlKey || event.metaKey || event.altKey) return;
  // Turned off: no character (a letter, digit or symbol, shifted or not) is a shortcut; the arrows, which are none, still are.
  if (!state.shortcutKeys && event.key.length === 1) return;

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
      e: state.leaseWarned ? () => void extendLease() : undefined,
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

/**
 * The controls' declared keys (aria-keyshortcuts) that are characters (WCAG 2.1.4's single-key
 * shortcuts): all but the viewer's arrows.
 */
const characterKeys = [...document.querySelectorAll('[aria-keyshortcuts]')]
  .map((node) => /** @type {[Element, string]} */ ([node, node.getAttribute('aria-keyshortcuts') ?? '']))
  .filter(([, keys]) => keys.split(' ').some((key) => (key.split('+').pop() ?? '').length === 1));

/**
 * Turns single-key shortcuts on or off (WCAG 2.1.4: a screen reader's browse mode and speech input
 * use the same letters, and a key pressed by mistake would judge an item). Off, no character key
 * does anything (see onKeyDown), no control declares one (aria-keyshortcuts would announce keys
 * that do nothing) or shows one, and the footer says how to turn them on. Remembered in this
 * browser (every tab follows); on by default, as reviewers work by them.
 */
function setShortcutKeys(on, remember = true) {
  state.shortcutKeys = on;
  el.shortcutKeys.checked = on;
  el.shortcutsOff.hidden = on;
  document.body.dataset.shortcuts = on ? 'on' : 'off';
  for (const [node, keys] of characterKeys) {
    if (on) node.setAttribute('aria-keyshortcuts', keys);
    else node.removeAttribute('aria-keyshortcuts');
  }
  // The comment's hint is about keys (Esc then 1–4, Shift+1–4): hidden with them, and no longer its description.
  if (on) el.comment.setAttribute('aria-describedby', 'comment-hint');
  else el.comment.removeAttribute('aria-describedby');
  if (remember) storage.set(storageKeys.shortcuts, on ? '' : 'off');
}

// ---- wiring --------------------------------------------------------------------------------

el.signinForm.addEventListener('submit', (event) => {
  event.preventDefault();
  const token = el.token.value.trim();
  if (!token) return;
  state.token = token;
  storage.set(storageKeys.token, token);
  el.token.value = '';
  // "Signed out." said before is past.
  banner('info', '');
  void loadNext();
});
/**
 * Hands the item this page holds back to the pool at once rather than when its lease runs out.
 * `keepalive` lets the request outlive the page when it is being closed; a failure only means
 * the lease runs its course. `bound`: only the lease this tab was handed (its leaseExpiresAt),
 * for a tab that leaves: its release may land after another tab of the reviewer renewed the lease
 * (see leaseAgain), which must not be given back. A sign-out gives back whatever lease the
 * reviewer holds: every tab of the page follows it, and none will judge the item.
 */
function releaseHeld(bound) {
  const token = state.token;
  const item = state.packet?.item;
  if (!token || !item) return;
  const lease = bound && typeof item.leaseExpiresAt === 'number' ? { leaseExpiresAt: item.leaseExpiresAt } : undefined;
  void fetch(`/v1/reviews/${encodeURIComponent(item.inferenceId)}/release`, {
    method: 'POST',
    keepalive: true,
    headers: { authorization: `Bearer ${token}`, ...(lease && { 'content-type': 'application/json' }) },
    ...(lease && { body: JSON.stringify(lease) }),
  }).catch(() => {});
}

el.signOut.addEventListener('click', () => {
  const held = Boolean(state.packet);
  releaseHeld(false);
  state.token = '';
  storage.set(storageKeys.token, '');
  drafts.keepOnly(null);
  // Not an error: no alert, the page's neutral status line.
  signIn('', `Signed out.${held ? ' The item you held went back to the queue.' : ''} Enter a reviewer token to go on.`);
});
// Closing or reloading this tab always gives its lease back (a tab that is discarded or crashes
// says nothing, so no tab may count on another to do it); another tab of the same reviewer that
// shows the item renews it, or leases it again (see leaseAgain).
window.addEventListener('pagehide', () => {
  const id = state.packet?.item.inferenceId;
  if (!id) return;
  releaseHeld(true);
  tabs?.postMessage({ type: 'gone', tab: tabId, reviewer: state.reviewer, id });
});
// Back from the back-forward cache: the item was released when the page was left; lease again.
window.addEventListener('pageshow', (event) => {
  if (event.persisted && state.packet) void loadNext();
});
tabs?.addEventListener('message', (event) => {
  const message = event.data;
  if (!message || message.tab === tabId) return;
  if (message.type === 'lease') return laterLeaseTold(message);
  if (message.type !== 'gone') return;
  // Whatever this tab shows: an answer of this tab's still on its way must not take up that lease.
  forgetToldLease(message.reviewer, message.id);
  // Another reviewer's tabs (signed in before in another tab) are none of this one's business.
  if (!state.packet || message.reviewer !== state.reviewer || message.id !== state.packet.item.inferenceId) return;
  clearTimeout(state.releaseTimer);
  state.releaseTimer = setTimeout(() => void leaseAgain(message.id), releaseSettleMs);
});
// The token is shared by every tab (localStorage): when another tab signs out or signs in with
// another, this one follows, so that nothing is done here as a reviewer it does not show.
window.addEventListener('storage', (event) => {
  if (event.key === storageKeys.shortcuts || event.key === null) setShortcutKeys(storage.get(storageKeys.shortcuts) !== 'off', false);
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
el.idleAction.addEventListener('click', () => void loadNextFrom(el.idleAction));
for (const button of el.verdictButtons) button.addEventListener('click', () => void judge(button.dataset.verdict ?? ''));
el.skip.addEventListener('click', () => void skip());
el.undo.addEventListener('click', () => void undo());
el.loadAgain.addEventListener('click', () => void loadNextFrom(el.loadAgain));
el.moreTime.addEventListener('click', () => void extendLease());
el.comment.addEventListener('input', () => state.packet && drafts.set(state.packet.item.inferenceId, state.reviewer, el.comment.value));
el.opacity.addEventListener('input', () => setOpacity(Number(el.opacity.value)));
el.shortcutKeys.addEventListener('change', () => setShortcutKeys(el.shortcutKeys.checked));
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
setShortcutKeys(storage.get(storageKeys.shortcuts) !== 'off', false);
state.token = storage.get(storageKeys.token);
if (state.token) void loadNext();
else signIn('');
