// The review page's shared parts: its constants, the elements it drives, what it shows now (state),
// and the small helpers every part uses (elements, storage, comment drafts, the banner, the view).

/** localStorage keys (this browser, every tab); `shortcuts` is 'off' while single-key shortcuts are turned off, absent otherwise. */
export const storageKeys = { token: 'gradcam-review.token', model: 'gradcam-review.model', opacity: 'gradcam-review.opacity', shortcuts: 'gradcam-review.shortcuts' };
/**
 * sessionStorage key of the comment typed on an item and not sent yet (this tab only; kept over a
 * reload or a sign-in of the same reviewer, whose name is stored with it).
 */
const draftKey = (id) => `gradcam-review.draft.${id}`;
/**
 * How long after an item's evidence is shown a verdict or skip is not taken: the second click of
 * a double-click, or a key pressed again at once, would otherwise decide an item nobody looked at.
 */
export const inputGuardMs = 400;
/**
 * Told to the other tabs of this page (same origin, any reviewer: each message names its
 * reviewer): a tab that leaves gives its item back, and another tab of the same reviewer that
 * shows it still leases it again; a tab handed a lease tells it, so that another tab of the same
 * reviewer showing that item counts down to the lease that runs now.
 */
export const tabs = typeof BroadcastChannel === 'function' ? new BroadcastChannel('gradcam-review.tabs') : null;
/**
 * How long a tab waits, after another tab of its reviewer said it left with the item both show,
 * before renewing its lease (or leasing it again): the leaving tab's release (sent as it went)
 * usually lands first. One that lands later names the lease it was sent for and is refused once
 * the lease is renewed, so a slow network cannot give back the lease taken on anew.
 */
export const releaseSettleMs = 500;
/**
 * How long before the lease on the item shown runs out the page says so and offers More time (E),
 * which renews it: a time limit the reviewer can extend, warned of with well over the 20 s to act
 * that WCAG 2.2.1 asks for.
 */
export const leaseWarnMs = 60_000;
export const tabId = Math.random().toString(36).slice(2) + Date.now().toString(36);
export const verdicts = {
  supports: 'Supports',
  'wrong-evidence': 'Wrong evidence',
  'wrong-prediction': 'Wrong prediction',
  unsure: 'Unsure',
};
export const verdictByKey = { 1: 'supports', 2: 'wrong-evidence', 3: 'wrong-prediction', 4: 'unsure' };

const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));
export const el = {
  banner: $('banner'),
  bannerText: $('banner-text'),
  undo: /** @type {HTMLButtonElement} */ ($('undo')),
  loadAgain: /** @type {HTMLButtonElement} */ ($('load-again')),
  moreTime: /** @type {HTMLButtonElement} */ ($('more-time')),
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
  explanationStatus: $('explanation-status'),
  predictionLabel: $('prediction-label'),
  predictionProbability: $('prediction-probability'),
  topScores: $('top-scores'),
  verdicts: $('verdicts'),
  verdictTitle: $('verdict-title'),
  verdictScope: $('verdict-scope'),
  verdictButtons: /** @type {HTMLButtonElement[]} */ ([...document.querySelectorAll('button.verdict')]),
  skip: /** @type {HTMLButtonElement} */ ($('skip')),
  comment: /** @type {HTMLTextAreaElement} */ ($('comment')),
  details: $('details'),
  shortcutKeys: /** @type {HTMLInputElement} */ ($('shortcut-keys')),
  shortcutsOff: $('shortcuts-off'),
  keysR: $('keys-r'),
};

/** What the page shows now. */
export const state = {
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
  /** @type {{ id: string, verdict: string, comment: string, deadline: number } | null} the last verdict, while it can be undone (deadline: performance.now() time; comment: the one sent with it, '' for none) */
  undo: null,
  /** Counts backlog requests, so that an older answer never overwrites a newer one. */
  backlogAsked: 0,
  /** performance.now() when the evidence shown last changed (an item rendered, an image of it loaded): see inputGuardMs. */
  shownAt: 0,
  /** Whether the lease on the item shown ran out by the page's count: no verdict or skip, Load again instead. */
  leaseLapsed: false,
  /** The warning said when the lease came within leaseWarnMs of its end ('' when none): More time (E) is offered while it is set. */
  leaseWarned: '',
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
  /** Whether single-key shortcuts (1–4, S, U, M, …) work: the reviewer can turn them off (WCAG 2.1.4), see setShortcutKeys. */
  shortcutKeys: true,
};

export class SignedOut extends Error {}
export class ApiError extends Error {
  /** `details`: the error's details as the service sent them; `response`: the answer (its Date header is the service's clock). */
  constructor(status, code, message, details, response) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
    this.response = response;
  }
}

// ---- small helpers -------------------------------------------------------------------------

/** Creates an element; `props` are properties (className, textContent, …) or `data-*`/`aria-*` attributes. */
export function h(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(props)) {
    if (value === undefined || value === null) continue;
    if (name.startsWith('data-') || name.startsWith('aria-') || name === 'role') node.setAttribute(name, String(value));
    else node[name] = value;
  }
  node.append(...children.filter((c) => c !== undefined && c !== null && c !== false));
  return node;
}

export const percent = (p, digits = 1) => `${(p * 100).toFixed(digits)}%`;
/** What the page tells the reviewer to do: `withKeys` while single-key shortcuts are on, `without` (the buttons' names) while they are off. */
export const keyed = (withKeys, without) => (state.shortcutKeys ? withKeys : without);
export const storage = {
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
export const drafts = {
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
export function banner(kind, text) {
  el.banner.className = `banner banner-${kind}`;
  el.bannerText.textContent = text ?? '';
  // While the lease is lapsed, or an image of the item did not load, Load again is the only way on
  // for a mouse, and for a keyboard user who Tabs (the R key is said only in words): whatever else is said, it stays.
  el.loadAgain.hidden = !((state.leaseLapsed || state.failedImages.size > 0) && state.packet);
  // Likewise More time, until the lease is renewed or runs out.
  el.moreTime.hidden = !(state.leaseWarned && state.packet && !state.leaseLapsed);
  fitBanner();
}

/**
 * Collapses the banner while it says nothing and offers nothing. Never `hidden`: its text is the
 * page's live region, which a screen reader follows only while it is rendered.
 */
export function fitBanner() {
  el.banner.classList.toggle('is-empty', !el.bannerText.textContent && el.undo.hidden && el.loadAgain.hidden && el.moreTime.hidden);
}

export function show(view) {
  for (const [name, node] of Object.entries({ signin: el.signin, idle: el.idle, loading: el.loading, review: el.review })) node.hidden = name !== view;
  const signedIn = view !== 'signin';
  el.filterForm.hidden = !signedIn;
  el.session.hidden = !signedIn;
  el.backlog.hidden = !signedIn || !el.backlog.textContent;
  document.body.dataset.view = view;
}
