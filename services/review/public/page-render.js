// Showing an item on the review page: its images, explanations, scores, details and lease, and
// switching between its explanations. Reads and writes the page state; talks to no API.

import { storageKeys, leaseWarnMs, el, state, h, percent, keyed, storage, drafts, banner, fitBanner, show, tabs, tabId } from './page-kit.js';

/**
 * The service's clock when it answered, read from the Date header. The header is truncated to the
 * second, so the service's time was up to 1 s later: a deadline counted from it is moved 1 s
 * earlier, so that the page never offers what the service would refuse.
 */
export function serverTime(response) {
  const date = Date.parse(response.headers.get('date') ?? '');
  return Number.isFinite(date) ? date + 1000 : Date.now();
}

export function setVerdictButtons(disabled, sending) {
  // Skip stays: it is the way on from an item whose images did not load.
  for (const button of el.verdictButtons) {
    button.disabled = disabled || state.failedImages.size > 0 || state.leaseLapsed;
    button.classList.toggle('is-sending', button.dataset.verdict === sending);
    button.classList.toggle('is-picked', button.dataset.verdict === state.picked);
  }
  el.skip.disabled = disabled || state.leaseLapsed;
  el.skip.classList.toggle('is-sending', sending === 'skip');
}


// ---- rendering -----------------------------------------------------------------------------

/** Shows `packet`, the answer to GET /v1/reviews/next sent at `askedAt` (askingLease). */
export function render(packet, response, askedAt) {
  state.packet = packet;
  const { item, manifest, urls } = packet;
  const explanations = manifest.explanations;
  const predicted = explanations.findIndex((e) => e.classIndex === manifest.prediction.classIndex);
  state.current = Math.max(0, predicted);

  const lease = latestLease(item, leaseDeadline(item, response), askedAt);
  packet.item = lease.item;
  state.leaseDeadline = lease.deadline;
  state.leaseLapsed = false;
  forgetLeaseWarning();
  state.shownAt = performance.now();

  state.failedImages = new Set();
  if (state.failedBanner) banner('info', '');
  state.failedBanner = false;

  const ratio = `${manifest.input.width} / ${manifest.input.height}`;
  el.inputStage.style.aspectRatio = ratio;
  el.overlayStage.style.aspectRatio = ratio;
  const inputUrl = shownInputUrl(packet);
  el.inputImage.src = inputUrl;
  // What a screen reader says of the image: what it is and what the model made of it.
  el.inputImage.alt = `Input image of ${item.inferenceId}, predicted ${item.label} (${percent(item.probability)})`;
  el.overlayBase.src = inputUrl;
  renderInputMeta(packet);
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
  tellLease();
  el.keysR.textContent = 'load again';
  show('review');
  el.explanationStatus.textContent = '';
  renderExplanation();
  tickLease();
}

/**
 * The input as the page shows it: its preview where the manifest has one (the worker writes one
 * where a browser would show the stored file otherwise than the model saw it: a TIFF Chromium and
 * Firefox cannot show, an animation, transparency, CMYK), else the stored file.
 */
function shownInputUrl({ manifest, urls }) {
  const preview = manifest.input.preview;
  return (preview && urls[preview.path]) || urls.image;
}

const previewReasons = {
  format: (format) => `browsers do not show ${format.toUpperCase()}`,
  animation: () => 'its first frame, which the model saw',
  transparency: () => 'transparency on white, as the model saw it',
  cmyk: () => 'CMYK colours as the model saw them',
};

/**
 * The input's size and format; with a preview shown, why, and a link to the file as stored (in a
 * new tab: leaving this page gives its item back to the queue).
 */
function renderInputMeta({ manifest, urls }) {
  const { width, height, format, preview } = manifest.input;
  const size = `${width}×${height} ${format}`;
  if (!preview || !urls[preview.path]) {
    el.inputMeta.replaceChildren(size);
    return;
  }
  // The manifest is stored data: a reason this page does not know (or `constructor`) says nothing.
  const why = Object.hasOwn(previewReasons, preview.reason) ? previewReasons[preview.reason](format) : '';
  el.inputMeta.replaceChildren(`${size}, shown as a JPEG preview${why ? ` (${why})` : ''} · `, h('a', { href: urls.image, target: '_blank', rel: 'noopener', textContent: `the ${format.toUpperCase()} as stored (opens in a new tab)` }));
}

// ---- images that do not load ---------------------------------------------------------------

/** What the reviewer would call the image at `url` of the item shown, or '' for a URL of no image of it. */
function imageName(url) {
  const { manifest, urls } = state.packet;
  if (url === shownInputUrl(state.packet)) return 'the input image';
  const entry = manifest.explanations.find((e) => urls[e.overlay.path] === url);
  return entry ? `the ${entry.method} heatmap of ${entry.label}` : '';
}

/**
 * An image of the item could not be loaded (removed or replaced in storage after the item was
 * handed out, or the network): the reviewer cannot see the evidence, so no verdict can be sent on
 * it until the item is loaded again (R, with fresh links; the service sets it aside if a file is
 * gone) or skipped (S).
 */
export function imageFailed(url) {
  if (!state.packet || !url || state.failedImages.has(url) || !imageName(url)) return;
  const had = document.activeElement;
  state.failedImages.add(url);
  const names = [...state.failedImages].map(imageName);
  const listed = names.length > 2 ? `${names[0]} and ${names.length - 1} other images` : names.join(' and ');
  banner('warn', `Could not load ${listed} of ${state.packet.item.inferenceId}: no verdict can be sent on evidence you cannot see. ${keyed('Press R to load the item again, or S to skip it.', 'Load again loads the item again; Skip skips it.')}`);
  state.failedBanner = true;
  if (!state.sending) setVerdictButtons(false);
  renderImageErrors();
  keepFocusOnTheWayOn(had);
}

/**
 * The control that had the focus (`had`) was a verdict or Skip, and is now disabled (the lease ran
 * out, an image failed): Chromium drops the focus to the body, where a keyboard or screen reader
 * user loses their place and Tab starts again from the top. It goes to Load again, the way on.
 */
function keepFocusOnTheWayOn(had) {
  if (!(had instanceof HTMLButtonElement) || !had.disabled || !(el.verdictButtons.includes(had) || had === el.skip)) return;
  if (!el.loadAgain.hidden) el.loadAgain.focus();
}

/**
 * A message in place of each image shown that failed; the image itself is hidden, so that its text
 * alternative ("Input image of …") does not tell a screen reader of an image that is not there.
 */
function renderImageErrors() {
  const { manifest, urls } = state.packet;
  const overlayUrl = urls[manifest.explanations[state.current].overlay.path] ?? '';
  for (const [node, image, url] of [[el.inputError, el.inputImage, shownInputUrl(state.packet)], [el.overlayError, el.overlayImage, overlayUrl]]) {
    const failed = state.failedImages.has(url);
    node.hidden = !failed;
    image.hidden = failed;
    if (failed) node.replaceChildren(`Could not load ${imageName(url)}.`, h('small', { textContent: `It may have been removed or replaced in storage. No verdict can be sent: ${keyed('R loads the item again, S skips it.', 'Load again loads the item again, Skip skips it.')}` }));
  }
}

/** Why a verdict cannot be sent yet ('' when it can): an image that failed, or the input or the heatmap shown not loaded yet. */
export function unseenEvidence() {
  const id = state.packet.item.inferenceId;
  if (state.failedImages.size > 0) return `No verdict sent: some of the images of ${id} could not be loaded. ${keyed('Press R to load the item again, or S to skip it.', 'Load again loads the item again; Skip skips it.')}`;
  const loaded = (image) => image.complete && image.naturalWidth > 0;
  if (!loaded(el.inputImage) || !loaded(el.overlayImage)) return `No verdict sent: the images of ${id} are still loading. Look at them first.`;
  return '';
}

/** The heatmap shown, in words: its alt text, and what a switch to it announces. */
function heatmapName(entry, predictedClass) {
  return `${entry.method} heatmap for class ${entry.label} (${percent(entry.probability)}${entry.classIndex === predictedClass ? ', the predicted class' : ''}) over the input image`;
}

/** Shows the explanation state.current; `announce`: say it (a key or button switched to it). */
function renderExplanation(announce = false) {
  const { manifest, urls } = state.packet;
  const explanations = manifest.explanations;
  const entry = explanations[state.current];
  el.overlayImage.src = urls[entry.overlay.path] ?? '';
  el.overlayImage.alt = heatmapName(entry, manifest.prediction.classIndex);
  if (announce) el.explanationStatus.textContent = `Showing the ${heatmapName(entry, manifest.prediction.classIndex)}, explanation ${state.current + 1} of ${explanations.length}`;
  el.overlayMeta.textContent = `${entry.method} · ${entry.label} ${percent(entry.probability)}`;
  renderImageErrors();
  const scope = renderVerdictScope(entry, manifest.prediction);
  if (announce && scope) el.explanationStatus.textContent += `. ${scope}`;

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
        h('span', { className: 'tab-score', textContent: tabPercent(e.probability) }),
      ),
    ),
  );
  const stats = entry.map;
  el.mapStats.textContent = `Map ${stats.width}×${stats.height} · border mass ${stats.borderMass.toFixed(2)} · entropy ${stats.entropy.toFixed(2)} · explanation ${state.current + 1} of ${explanations.length}`;
  renderTopScores(entry.classIndex);
}

/**
 * Says what a verdict is on: the prediction. The pool, review.json and the verdict metrics record
 * it against the item's predicted class (the pool and review.json also note the heatmap shown,
 * `shown`, but the verdict is counted on the prediction), so while another class's heatmap is
 * shown the question must not read as one about that heatmap
 * ("Does the heatmap support the prediction?" beside layercam · Drawing, Neutral predicted).
 * Returns the note shown then ('' while the predicted class's heatmap is shown).
 */
function renderVerdictScope(entry, prediction) {
  const predicted = prediction.label;
  const other = entry.classIndex !== prediction.classIndex;
  el.verdictTitle.textContent = other ? `Does the evidence support the prediction, ${predicted}?` : 'Does the heatmap support the prediction?';
  const note = other ? `The heatmap shown is ${entry.method} for ${entry.label}, not the predicted class: your verdict is recorded on the prediction, ${predicted}, with this heatmap noted as the one shown.` : '';
  el.verdictScope.textContent = note;
  el.verdictScope.hidden = !other;
  // Heard with the verdicts when the focus moves to them (the skip link, a key's verdict).
  if (other) el.verdicts.setAttribute('aria-describedby', 'verdict-scope');
  else el.verdicts.removeAttribute('aria-describedby');
  return note;
}

/**
 * A class's score on its tab, in whole percent, but never 100% or 0% for a score that is neither:
 * beside the top scores' 99.7% a tab saying 100% told the reviewer the model was certain, and one
 * saying 0% that the class explained had no chance at all.
 */
function tabPercent(p) {
  if (p > 0 && p < 0.005) return '<1%';
  if (p < 1 && p >= 0.995) return '>99%';
  return percent(p, 0);
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
        // Bold and colour say which is predicted and which the heatmap shows; a screen reader hears it.
        index === manifest.prediction.classIndex || index === shownClass
          ? h('span', { className: 'visually-hidden', textContent: [index === manifest.prediction.classIndex && ' (predicted)', index === shownClass && ' (heatmap shown)'].filter(Boolean).join('') })
          : undefined,
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

export function tickLease() {
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
  else if (left > 0 && left * 1000 <= leaseWarnMs && !state.leaseWarned && !state.leaseLapsed && !state.sending && !state.loading) leaseRunningOut(left);
}

/** The lease on the item shown runs out soon: say so, and offer More time (E), which renews it. */
function leaseRunningOut(left) {
  state.leaseWarned = `The lease on ${state.packet.item.inferenceId} runs out in ${left} s: press ${keyed('E (More time)', 'More time')} to keep it; a verdict sent after it runs out is refused.`;
  banner('warn', state.leaseWarned);
}

/** The lease was renewed, ran out or is another: no warning stands, nor its More time. */
function forgetLeaseWarning() {
  const told = state.leaseWarned;
  state.leaseWarned = '';
  el.moreTime.hidden = true;
  if (told && el.bannerText.textContent === told) banner('info', '');
  else fitBanner();
}

/**
 * The lease ran out (by the page's count, from the service's clock): a verdict would be refused,
 * so none can be sent; loading again leases the item anew when nobody else took it (or hands out
 * the next). A comment typed stays as the item's draft.
 */
export function leaseRanOut() {
  const had = document.activeElement;
  state.leaseLapsed = true;
  forgetLeaseWarning();
  state.picked = null;
  setVerdictButtons(false);
  const id = state.packet.item.inferenceId;
  banner('warn', `The lease on ${id} ran out: a verdict would be refused, so none can be sent. ${keyed('Load again (R)', 'Load again')} to get it back, if nobody else has taken it, or the next item.${el.comment.value.trim() ? ' Your comment is kept.' : ''}`);
  state.failedBanner = true;
  keepFocusOnTheWayOn(had);
}

/**
 * The item shown is held anew (its lease renewed, or leased again, in answer to a request sent at
 * `askedAt`): the new lease replaces the old (the one a release names, the deadline counted down),
 * and a lapsed lease no longer is.
 */
export function heldAgain(item, response, askedAt) {
  const lease = latestLease(item, leaseDeadline(item, response), askedAt);
  adoptLease(lease.item, lease.deadline);
  tellLease();
}

/** The latest lease other tabs told, by reviewer and item: { leaseExpiresAt, deadline, told } (deadline: performance.now() time; told: see leaseEvents). */
const toldLeases = new Map();
const leaseKey = (reviewer, id) => `${reviewer}\n${id}`;
/** Orders the leases told against the requests sent (a clock may give both the same time). */
let leaseEvents = 0;

/** Marks a lease request (GET /next, a renewal) going out now: pass what it returns to render or heldAgain with the answer. */
export function askingLease() {
  return ++leaseEvents;
}

/**
 * The lease to count down to for `item`, handed with `deadline` in answer to a request this tab
 * sent at `askedAt` (askingLease): a later lease that another tab told after that request went
 * out wins, as the answers crossed (this tab's GET /next, checked against storage before it
 * answers, or its renewal was overtaken by the other tab's renewal). One told before this tab asked
 * does not: the service has answered since, and a lease made anew (after a release, an undo, a
 * sign-in again) may end earlier than an old one, on an instance whose clock is behind.
 */
function latestLease(item, deadline, askedAt) {
  const told = toldLeases.get(leaseKey(item.leasedBy ?? '', item.inferenceId));
  const later = told && askedAt !== undefined && told.told > askedAt && typeof item.leaseExpiresAt === 'number' && told.leaseExpiresAt > item.leaseExpiresAt;
  return later ? { item: { ...item, leaseExpiresAt: told.leaseExpiresAt }, deadline: told.deadline } : { item, deadline };
}

/** A tab of `reviewer` gave `id` back as it left: a lease it told is no longer one to count down to. */
export function forgetToldLease(reviewer, id) {
  toldLeases.delete(leaseKey(reviewer, id));
}

/**
 * Another tab of this reviewer holds an item under a later lease (it renewed it, or leased it again
 * after a tab gave it back): when this tab shows that item, the lease is its too, so its countdown
 * does not run out, nor its verdict buttons go off, while the lease still runs. Kept a while when
 * this tab does not show it (yet): its own answer for that item may still be on its way (latestLease).
 */
export function laterLeaseTold(message) {
  if (typeof message.id !== 'string' || typeof message.reviewer !== 'string') return;
  if (typeof message.leaseExpiresAt !== 'number' || typeof message.leftMs !== 'number') return;
  const told = { leaseExpiresAt: message.leaseExpiresAt, deadline: performance.now() + message.leftMs, told: ++leaseEvents };
  const key = leaseKey(message.reviewer, message.id);
  toldLeases.delete(key);
  toldLeases.set(key, told);
  // A reviewer holds one lease at a time: a few entries cover every answer still on its way.
  if (toldLeases.size > 8) toldLeases.delete(toldLeases.keys().next().value);
  const item = state.packet?.item;
  if (!item || message.reviewer !== state.reviewer || message.id !== item.inferenceId) return;
  if (typeof item.leaseExpiresAt === 'number' && message.leaseExpiresAt <= item.leaseExpiresAt) return;
  adoptLease({ ...item, leaseExpiresAt: message.leaseExpiresAt }, told.deadline);
}

function adoptLease(item, deadline) {
  state.packet.item = item;
  state.leaseDeadline = deadline;
  forgetLeaseWarning();
  if (state.leaseLapsed) {
    state.leaseLapsed = false;
    state.failedBanner = false;
    banner('info', '');
    setVerdictButtons(false);
  }
  tickLease();
}

/**
 * Tells the other tabs the lease this one was handed on the item it shows. What is told is the
 * time left, not the deadline: each tab counts on its own performance.now(), whose origin is its own.
 */
function tellLease() {
  const item = state.packet?.item;
  if (!tabs || !item || typeof item.leaseExpiresAt !== 'number' || !Number.isFinite(state.leaseDeadline)) return;
  const leftMs = Math.max(0, state.leaseDeadline - performance.now());
  tabs.postMessage({ type: 'lease', tab: tabId, reviewer: state.reviewer, id: item.inferenceId, leaseExpiresAt: item.leaseExpiresAt, leftMs });
}

/** When the lease on `item` runs out, in performance.now() time, counted from the server's clock (Date header), not the browser's. */
export function leaseDeadline(item, response) {
  return typeof item.leaseExpiresAt === 'number' ? performance.now() + Math.max(0, item.leaseExpiresAt - serverTime(response)) : Number.POSITIVE_INFINITY;
}


// ---- switching explanations ----------------------------------------------------------------

export function select(method, classIndex) {
  const explanations = state.packet.manifest.explanations;
  const exact = explanations.findIndex((e) => e.method === method && e.classIndex === classIndex);
  const index = exact >= 0 ? exact : explanations.findIndex((e) => e.method === method);
  if (index >= 0 && index !== state.current) {
    state.current = index;
    renderExplanation(true);
  }
}

export function step(delta) {
  const count = state.packet.manifest.explanations.length;
  if (count < 2) return;
  state.current = (state.current + delta + count) % count;
  renderExplanation(true);
}

/** The next method (same class) or the next class (same method), wrapping around. */
export function cycle(kind, delta) {
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

export function setOpacity(value, remember = true) {
  const opacity = Math.min(1, Math.max(0, Math.round(value * 20) / 20));
  el.opacity.value = String(opacity);
  el.overlayImage.style.opacity = String(opacity);
  el.opacityValue.textContent = `${Math.round(opacity * 100)}%`;
  el.opacity.setAttribute('aria-valuetext', el.opacityValue.textContent);
  if (remember) storage.set(storageKeys.opacity, String(opacity));
}
