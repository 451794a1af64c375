// DenseLab "your own classes" page (web/train.html): classes of the user's images (files,
// folders, paste, camera), DenseNet121 features in a pool of web/train-worker.js workers
// (cached in IndexedDB by content hash and settings), cross-validated training, live camera
// predictions, and the project file. All computing is the C core's, in the workers; this
// file is the page's DOM and sequencing.
import { confidences } from './train-lib.js';
import { FeatureCache } from './fashion-cache.js';
import { download, registerServiceWorker } from './loading.js';
import { showError, wireErrorClose } from './page-errors.js';
import { FeaturePool } from './fashion-pool.js';

const MODEL_URL = 'models/densenet121.dlm', WASM_URL = 'denselab_core.wasm';
const MAX_CLASSES = 50, DIMS = 1024, CHUNK = 4;
const $ = (id) => document.getElementById(id);
const el = (tag, props = {}, ...children) => { const e = Object.assign(document.createElement(tag), props); e.append(...children); return e; };

const state = {
  wasm: null, checksum: undefined, cache: null, kinds: [],
  classes: [], selected: null, nextId: 1,
  skipped: [],                  // [{ name, reason }]
  pool: null,                   // FeaturePool at one input size
  trained: null,                // { classifier: Uint8Array, kind, size, classes: [names] }
  busy: false, stream: null, live: false,
};
window.trainPage = state;       // for the tests and the curious

function setStatus(s) { $('status').textContent = s; $('status').dataset.state = s; }

// ---------- the worker pool (web/fashion-pool.js's, on train-worker.js) ----------

function workerCount() {
  const w = $('workers').value;
  return w === 'auto' ? Math.max(1, Math.min(4, navigator.hardwareConcurrency || 1)) : Number(w);
}

// A job { files: [Uint8Array] } -> the worker's features request (copies: the page keeps its bytes).
const featuresRequest = (job) => {
  const files = job.files.map((b) => b.slice().buffer);
  return { cmd: 'features', args: { files }, transfer: files };
};

// The pool at input size `size` (default: the setting), its workers holding the trained
// classifier when it was trained at that size; made anew when the size or count changes.
function pool(size = Number($('size').value)) {
  const count = workerCount();
  if (!state.pool || state.pool.size !== size || state.pool.target !== count || state.pool.cancelled) {
    state.pool?.terminate();
    state.pool = new FeaturePool({ size, count, wasm: state.wasm, modelUrl: new URL(MODEL_URL, location.href).href, modelChecksum: state.checksum, worker: new URL('./train-worker.js', import.meta.url), request: featuresRequest });
    if (state.trained?.size === size) state.pool.configure('classifier', { bytes: state.trained.classifier.slice().buffer }).catch(() => {});
  }
  return state.pool;
}

// The trained classifier into every worker (and every replacement) of its size's pool.
function setTrained(trained) {
  state.trained = trained;
  return trained ? pool(trained.size).configure('classifier', { bytes: trained.classifier.slice().buffer }) : undefined;
}

// ---------- classes and images ----------

function addClass(name) {
  if (state.classes.length >= MAX_CLASSES) { showError(`at most ${MAX_CLASSES} classes`); return null; }
  let n = state.classes.length + 1;
  while (!name && state.classes.some((c) => c.name === `class ${n}`)) n++;
  const c = { id: state.nextId++, name: name || `class ${n}`, images: [] };
  state.classes.push(c);
  state.selected ??= c.id;
  render();
  return c;
}

const classById = (id) => state.classes.find((c) => c.id === id);

async function sha256(bytes) {
  const d = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
  return Array.from(d, (b) => b.toString(16).padStart(2, '0')).join('');
}

// Files (File, or { name, bytes: Uint8Array }) into class c.
async function addImages(c, files) {
  for (const f of files) {
    const bytes = f instanceof Blob ? new Uint8Array(await f.arrayBuffer()) : f.bytes;
    const name = f.name || `pasted-${state.nextId}.png`;
    c.images.push({ id: state.nextId++, name, bytes, hash: await sha256(bytes), url: URL.createObjectURL(new Blob([bytes])) });
  }
  state.trained = null;
  render();
}

// A folder of class folders: [{ path: 'top/class/file', file }] -> a class per sub-folder, in name order.
async function addClassFolders(entries) {
  const groups = new Map();
  for (const { path, file } of entries) {
    const parts = path.split('/').filter(Boolean);
    if (parts.length < 3 || parts.some((p) => p.startsWith('.'))) continue;
    if (!groups.has(parts[1])) groups.set(parts[1], []);
    groups.get(parts[1]).push(file);
  }
  for (const name of [...groups.keys()].sort()) {
    const c = state.classes.find((k) => k.name === name) ?? addClass(name);
    if (c) await addImages(c, groups.get(name));
  }
}

// Dropped items -> [{ path, file }] (folders walked).
async function droppedFiles(items) {
  const out = [];
  const walk = async (entry, path) => {
    if (entry.isFile) out.push({ path: `${path}${entry.name}`, file: await new Promise((res, rej) => entry.file(res, rej)) });
    else if (entry.isDirectory) {
      const reader = entry.createReader();
      for (let batch; (batch = await new Promise((res, rej) => reader.readEntries(res, rej))).length;) for (const e of batch) await walk(e, `${path}${entry.name}/`);
    }
  };
  const entries = [...items].map((i) => i.webkitGetAsEntry?.()).filter(Boolean);
  for (const e of entries) await walk(e, '/');
  return { out, folders: entries.filter((e) => e.isDirectory).length };
}

// Names in byte order within a class, as the CLIs list a folder.
const byName = (a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

// ---------- rendering ----------

function render() {
  const box = $('classes');
  box.replaceChildren(...state.classes.map((c) => {
    const name = el('input', { type: 'text', value: c.name, maxLength: 255, ariaLabel: 'class name' });
    name.dataset.testid = 'class-name';
    name.onchange = () => {
      const v = name.value.trim();
      if (!v || state.classes.some((k) => k !== c && k.name === v)) { showError(v ? `two classes are named '${v}'` : 'a class needs a name'); name.value = c.name; return; }
      c.name = v; state.trained = null; render();
    };
    const files = el('input', { type: 'file', multiple: true, accept: 'image/*', hidden: true });
    files.onchange = () => addImages(c, [...files.files]);
    const folder = el('input', { type: 'file', multiple: true, hidden: true });
    folder.webkitdirectory = true;
    folder.onchange = () => addImages(c, [...folder.files]);
    const pick = (input, text) => { const b = el('button', { type: 'button', textContent: text, className: 'small' }); b.onclick = () => input.click(); return b; };
    const del = el('button', { type: 'button', textContent: 'Delete', className: 'small' });
    del.onclick = () => { state.classes = state.classes.filter((k) => k !== c); if (state.selected === c.id) state.selected = state.classes[0]?.id ?? null; state.trained = null; render(); };
    const thumbs = el('div', { className: 'thumbs' }, ...c.images.map((im) => {
      const rm = el('button', { type: 'button', textContent: '×', className: 'remove small', ariaLabel: `remove ${im.name}` });
      rm.onclick = () => { c.images = c.images.filter((i) => i !== im); URL.revokeObjectURL(im.url); state.trained = null; render(); };
      return el('div', { className: 'thumb', title: im.name }, el('img', { src: im.url, alt: im.name }), rm, ...(im.browser ? [el('span', { className: 'tag', textContent: 'browser' })] : []));
    }));
    const card = el('div', { className: `class-card${state.selected === c.id ? ' selected' : ''}` },
      el('div', { className: 'class-head' }, name, el('span', { className: 'count', textContent: `${c.images.length} image${c.images.length === 1 ? '' : 's'}` }),
        pick(files, 'Add images…'), pick(folder, 'Add a folder…'), files, folder, del), thumbs);
    card.dataset.testid = 'class-card';
    card.onclick = (e) => { if (state.selected !== c.id && e.target.tagName !== 'BUTTON') { state.selected = c.id; render(); } };
    card.ondragover = (e) => { e.preventDefault(); card.classList.add('dragover'); };
    card.ondragleave = () => card.classList.remove('dragover');
    card.ondrop = async (e) => {
      e.preventDefault(); e.stopPropagation();
      const { out } = await droppedFiles(e.dataTransfer.items);
      await addImages(c, out.length ? out.map((o) => o.file) : [...e.dataTransfer.files]);
    };
    return card;
  }));
  $('skipped').hidden = !state.skipped.length;
  $('skipped').replaceChildren(el('strong', { textContent: 'Skipped (unreadable): ' }), ...state.skipped.map((s) => el('div', { textContent: `${s.name}: ${s.reason}` })));
  renderWarnings();
  const ready = !state.busy && state.wasm;
  $('train').disabled = !ready || state.classes.length < 2;
  $('save').disabled = !ready || !state.classes.length;
  $('export-onnx').disabled = !ready || !state.trained;
  $('live').disabled = !state.trained || !state.stream;
  $('capture').disabled = !state.stream || !state.selected;
}

function renderWarnings() {
  const out = [];
  const counts = state.classes.map((c) => c.images.length);
  const list = (cs) => cs.map((c) => `“${c.name}” (${c.images.length})`).join(', ');
  const empty = state.classes.filter((c) => c.images.length < 2), few = state.classes.filter((c) => c.images.length >= 2 && c.images.length < 5);
  if (empty.length) out.push(`Every class needs at least 2 images to train and evaluate: ${list(empty)}.`);
  const evaluation = $('cv').value.startsWith('holdout:') ? 'only one or two of its images are held out' : 'evaluation is then leave-one-out';
  if (few.length) out.push(`Fewer than 5 images in ${list(few)}: ${evaluation} and the accuracy is a rough estimate; the classifier has few examples to learn such a class from.`);
  const min = Math.min(...counts), max = Math.max(...counts);
  if (state.classes.length >= 2 && min > 0 && max >= 3 * min)
    out.push(`The classes are unbalanced (${min} to ${max} images): a classifier can reach a good overall accuracy by favouring the large classes, so read the per-class accuracy below.`);
  $('warnings').replaceChildren(...out.map((t) => el('p', { textContent: t })));
}

function renderBars(box, names, conf) {
  box.replaceChildren(...names.map((n, i) => el('div', { className: 'bar' }, el('span', { textContent: n }),
    el('meter', { min: 0, max: 1, value: conf[i] }), el('span', { textContent: `${(conf[i] * 100).toFixed(1)}%` }))));
}

// ---------- features, training, results ----------

async function extract(items, size) {
  const p = pool(), total = items.length, t0 = performance.now();
  let done = 0, computed = 0;
  const progress = () => {
    const secs = (performance.now() - t0) / 1000, rate = computed / Math.max(secs, 1e-3);
    $('progress').max = total; $('progress').value = done;
    $('progress-text').textContent = `Features: ${done}/${total} images${computed ? `, ${rate.toFixed(1)} images/s, about ${Math.ceil((total - done) / Math.max(rate, 1e-6))} s left` : ''}`;
  };
  const jobs = [];
  let pending = [];
  for (const it of items) {
    it.key = `own:${state.checksum.toString(16)}:s${size}:${it.image.hash}`;
    it.features = state.cache ? await state.cache.get(it.key, DIMS) : null;
    if (it.features) done++; else pending.push(it);
    if (pending.length === CHUNK) { jobs.push({ items: pending }); pending = []; }
  }
  if (pending.length) jobs.push({ items: pending });
  progress();
  jobs.forEach((j, i) => Object.assign(j, { files: j.items.map((it) => it.image.bytes), split: 'the', range: [i * CHUNK, i * CHUNK + j.items.length] }));   // range: for the pool's messages
  await p.run(jobs, { onResult: (job, features, r) => {
    job.items.forEach((it, i) => {
      if (r.errors[i]) { it.error = r.errors[i]; return; }
      it.features = r.features.slice(i * DIMS, (i + 1) * DIMS);
      it.image.browser = r.browser[i];
      state.cache?.put(it.key, it.features).catch(() => {});
    });
    done += job.items.length; computed += job.items.length;
    progress();
  } });
  return (performance.now() - t0) / 1000;
}

function settings() {
  const kind = $('kind').value, params = {};
  for (const input of $('params').querySelectorAll('input')) if (input.dataset.kind === kind) params[input.name] = Number(input.value);
  const evaluation = $('cv').value, holdout = evaluation.startsWith('holdout:') ? Number(evaluation.slice(8)) : 0;
  return { size: Number($('size').value), cv: holdout ? 0 : Number(evaluation), holdout, kind, params };
}

async function train() {
  state.busy = true; render();
  $('cancel').disabled = false; $('results').hidden = true;
  setStatus('training');
  try {
    const s = settings();
    // Images in class order, each class's in name order (as the CLIs read the folders).
    const items = state.classes.flatMap((c, label) => c.images.slice().sort(byName).map((image) => ({ image, label, cls: c })));
    const seconds = await extract(items, s.size);
    for (const it of items.filter((i) => i.error)) {
      state.skipped.push({ name: it.image.name, reason: it.error });
      it.cls.images = it.cls.images.filter((i) => i !== it.image);
    }
    const used = items.filter((i) => !i.error), x = new Float32Array(used.length * DIMS);
    used.forEach((it, i) => x.set(it.features, i * DIMS));
    const y = used.map((it) => it.label), classes = state.classes.map((c) => c.name);
    $('progress-text').textContent = `Features of ${used.length} images in ${seconds.toFixed(1)} s; cross-validating and training…`;
    const t0 = performance.now();
    const r = await pool().call('train', { x, y, d: DIMS, settings: s, classes });
    const trainSeconds = (performance.now() - t0) / 1000;
    await setTrained({ classifier: r.classifier, kind: s.kind, size: s.size, classes });
    $('progress-text').textContent = `Done: features ${seconds.toFixed(1)} s, cross-validation and training ${trainSeconds.toFixed(1)} s.`;
    document.body.dataset.trainSeconds = String(seconds + trainSeconds);
    renderResults(r.cv, used, classes);
    setStatus('trained');
  } catch (e) {
    if (state.cancelled) { $('progress-text').textContent = 'Cancelled: the features computed so far are kept in the cache.'; setStatus('cancelled'); }
    else { showError(e.message); setStatus('error'); }
  } finally {
    state.cancelled = false;
    state.busy = false; $('cancel').disabled = true; render();
  }
}

function renderResults(cv, used, classes) {
  $('results').hidden = false;
  $('accuracy').textContent = cv.accuracy.toFixed(4);
  $('accuracy-label').textContent = cv.holdout ? 'Held-out accuracy' : 'Cross-validated accuracy';
  $('cv-text').textContent = cv.holdout ? `(${+(cv.holdout * 100).toFixed(2)}% of each class held out: ${cv.evaluated} of ${used.length} images; trained on the rest)`
    : cv.leaveOneOut ? `(leave-one-out, ${used.length} images)` : `(stratified ${cv.folds}-fold, ${used.length} images)`;
  $('per-class').replaceChildren(...classes.map((n, c) => {
    const row = cv.confusion[c], total = row.reduce((a, b) => a + b, 0);
    return el('tr', {}, el('td', { textContent: n }), el('td', { textContent: String(total) }), el('td', { textContent: (total ? row[c] / total : 0).toFixed(4) }));
  }));
  const thumbsOf = (list) => list.map((it) => el('div', { className: 'thumb', title: it.image.name }, el('img', { src: it.image.url, alt: it.image.name }),
    el('span', { className: 'tag', textContent: `${classes[it.label]} → ${classes[it.pred]}` })));
  used.forEach((it, i) => { it.pred = cv.predictions[i]; });
  const table = el('table', { className: 'confusion' }, el('tr', {}, el('th'), ...classes.map((n) => el('th', { textContent: n }))),
    ...classes.map((n, t) => el('tr', {}, el('th', { textContent: n }), ...classes.map((_, p) => {
      const b = el('button', { type: 'button', textContent: String(cv.confusion[t][p]) });
      b.onclick = () => $('cell-images').replaceChildren(...thumbsOf(used.filter((it) => it.label === t && it.pred === p)));
      return el('td', { className: t === p ? 'diagonal' : '' }, b);
    }))));
  $('confusion').replaceChildren(table);
  $('cell-images').replaceChildren();
  const wrong = used.filter((it) => it.pred >= 0 && it.label !== it.pred);   // pred -1: trained on, not evaluated
  $('misclassified').replaceChildren(...thumbsOf(wrong));
  if (!wrong.length) $('misclassified').append(el('span', { className: 'help', textContent: 'none' }));
}

// ---------- camera ----------

const frameCanvases = new Map();   // side -> a 2D context kept for reading back (resizing a canvas clears and reallocates it)

// The centre square of the video at side x side pixels.
function grabFrame(side) {
  let ctx = frameCanvases.get(side);
  if (!ctx) {
    const canvas = el('canvas', { width: side, height: side });
    frameCanvases.set(side, (ctx = canvas.getContext('2d', { willReadFrequently: true })));
  }
  const v = $('video'), s = Math.min(v.videoWidth, v.videoHeight);
  ctx.drawImage(v, (v.videoWidth - s) / 2, (v.videoHeight - s) / 2, s, s, 0, 0, side, side);
  return ctx;
}

async function startCamera() {
  try {
    state.stream = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480 } });
    $('video').srcObject = state.stream;
    await $('video').play();
  } catch (e) { showError(`camera: ${e.message}`); }
  render();
}

let captureTimer = 0, captured = 0;
function captureOne() {
  const c = classById(state.selected);
  if (!c || !$('video').videoWidth) return;
  grabFrame(224).canvas.toBlob(async (blob) => {
    captured++;
    $('capture-count').textContent = `${captured} captured`;
    await addImages(c, [new File([blob], `camera-${String(captured).padStart(4, '0')}.png`)]);
  }, 'image/png');
}

// Live predictions, pipelined over the pool: each worker has one frame in flight, grabbed the
// moment it is free (so the frame is as fresh as can be); the page thread only draws the frame
// and hands its RGBA bytes over (the worker drops the alpha). A result older than one already
// shown is dropped. The rate shown is of results shown, over the last second or more.
async function liveLoop() {
  const { classes: names, kind, size } = state.trained, p = pool(size);
  let seq = 0, shown = 0, frames = 0, dropped = 0, workMs = 0, t0 = performance.now();
  const next = () => {
    if (!state.live) return null;
    const rgba = grabFrame(size).getImageData(0, 0, size, size).data.buffer;
    return { cmd: 'frame', args: { rgba, seq: ++seq }, transfer: [rgba] };
  };
  const onResult = (req, r) => {
    if (!state.live) return;
    if (req.args.seq < shown) { document.body.dataset.liveDropped = String(++dropped); return; }   // stale: a newer frame is shown
    shown = req.args.seq;
    renderBars($('live-bars'), names, confidences(kind, r.scores));
    frames++; workMs += r.ms;
    const secs = (performance.now() - t0) / 1000;
    if (secs >= 1) {
      const fps = frames / secs, ms = workMs / frames;
      $('fps').textContent = `${fps.toFixed(1)} frames/s (${p.target} worker${p.target > 1 ? 's' : ''}, ${ms.toFixed(0)} ms a frame each)`;
      Object.assign(document.body.dataset, { fps: fps.toFixed(2), frameMs: ms.toFixed(1), liveWorkers: String(p.target) });
      frames = 0; workMs = 0; t0 = performance.now();
    }
  };
  try { await p.stream(next, onResult); } catch (e) { if (state.live) showError(`live predictions: ${e.message}`); }
}

// ---------- use, save, open ----------

async function classifyFiles(files) {
  if (!state.trained) { showError('train or open a project first'); return; }
  const p = pool(state.trained.size);
  for (const f of files) {
    const bytes = new Uint8Array(await f.arrayBuffer());
    const r = await p.call('features', { files: [bytes.slice().buffer] });
    const box = el('div', { className: 'bars' });
    const row = el('div', { className: 'prediction' }, el('img', { src: URL.createObjectURL(new Blob([bytes])), alt: f.name }), el('div', {}, el('strong', { textContent: f.name }), box));
    row.dataset.testid = 'prediction';
    if (r.errors[0]) box.textContent = r.errors[0];
    $('predictions').prepend(row);
    if (!r.errors[0]) {
      const scores = Array.from((await p.call('score', { features: r.features })).scores);
      row.dataset.label = state.trained.classes[scores.indexOf(Math.max(...scores))];
      row.dataset.scores = JSON.stringify(Array.from(scores));
      renderBars(box, state.trained.classes, confidences(state.trained.kind, scores));
    }
  }
}

async function saveProject() {
  const s = settings(), classes = state.classes.map((c) => c.name);
  const sameClasses = state.trained && state.trained.classes.join('\n') === classes.join('\n');
  const images = $('save-images').checked ? state.classes.flatMap((c, label) => c.images.slice().sort(byName).map((im) => ({ label, name: im.name, bytes: im.bytes.slice().buffer }))) : [];
  saveFile(await pool().call('save', { settings: s, classes, classifier: sameClasses ? state.trained.classifier : null, images }), 'classes.dlproj');
}

function saveFile(bytes, name) {
  const a = el('a', { href: URL.createObjectURL(new Blob([bytes])), download: name });
  document.body.append(a); a.click(); a.remove();
}

// The trained classifier at its input size, with DenseNet121, as one .onnx file (lab.exportOnnx).
async function exportOnnx() {
  const t = state.trained;
  saveFile(await pool().call('onnx', { settings: { size: t.size, cv: 0, kind: t.kind, params: {} }, classes: t.classes, classifier: t.classifier }), 'classes.onnx');
}

async function openProject(file) {
  try {
    const r = await pool().call('open', { bytes: await file.arrayBuffer() });
    const { info } = r;
    $('size').value = String(info.size); $('kind').value = info.kind; renderParams(info.params);
    const evaluation = info.holdout ? `holdout:${info.holdout}` : String(info.cv);
    if (![...$('cv').options].some((o) => o.value === evaluation)) $('cv').append(el('option', { value: evaluation, textContent: info.holdout ? `hold out ${+(info.holdout * 100).toFixed(2)}% of each class` : `${info.cv}-fold` }));
    $('cv').value = evaluation;
    state.classes = []; state.selected = null; state.skipped = [];
    const made = info.classes.map((n) => addClass(n));
    for (const im of r.images) await addImages(made[im.label], [{ name: im.name, bytes: im.bytes }]);
    await setTrained(info.trained ? { classifier: r.classifier, kind: info.kind, size: info.size, classes: info.classes } : null);
    setStatus(state.trained ? 'trained' : 'ready');
  } catch (e) { showError(`${file.name}: ${e.message}`); }
  render();
}

// ---------- settings ----------

function renderParams(values = {}) {
  const kind = $('kind').value, spec = state.kinds.find((k) => k.name === kind);
  $('params').replaceChildren(el('label', { textContent: 'Parameters' }), ...(spec?.params ?? []).map((p) => {
    const input = el('input', { type: 'number', name: p.name, value: String(values[p.name] ?? p.default), min: String(p.min), max: String(p.max), step: p.type === 'int' ? '1' : 'any' });
    input.dataset.kind = kind;
    return el('label', { className: 'param', title: p.help }, p.name, input);
  }));
}

async function load() {
  setStatus('loading');
  await registerServiceWorker();
  let got = [0, 0], totals = [0, 0];
  const bytes = await Promise.all([WASM_URL, MODEL_URL].map((u, i) => download(u, (g, t) => {
    got[i] = g; totals[i] = t;
    $('load-progress').max = totals[0] + totals[1] || 1; $('load-progress').value = got[0] + got[1];
  })));
  state.wasm = bytes[0].buffer;   // the model download fills the offline cache; each worker fetches it itself
  state.cache = await FeatureCache.open().catch(() => new FeatureCache(null));
  const first = pool().slots[0];
  state.checksum = (await first.ready).checksum;
  state.kinds = await pool().call('kinds');
  $('kind').replaceChildren(...state.kinds.map((k) => el('option', { value: k.name, textContent: k.name })));
  renderParams();
  $('loadbar').classList.add('loaded');
  $('load-label').textContent = `Ready: model checksum ${state.checksum.toString(16)}.`;
  setStatus('ready');
  document.body.dataset.ready = '1';
  render();
}

function wire() {
  wireErrorClose();
  $('add-class').onclick = () => addClass();
  $('top-folder').onchange = () => addClassFolders([...$('top-folder').files].map((f) => ({ path: `/${f.webkitRelativePath}`, file: f })));
  $('kind').onchange = () => renderParams();
  $('cv').onchange = () => renderWarnings();
  $('train').onclick = train;
  $('cancel').onclick = () => { state.cancelled = true; state.pool?.cancel(); };
  $('camera-start').onclick = startCamera;
  const stopCapture = () => { clearInterval(captureTimer); captureTimer = 0; };
  // Held: the pointer is captured, so the button moving as thumbnails are added does not end it.
  $('capture').onpointerdown = (e) => {
    $('capture').setPointerCapture(e.pointerId);
    stopCapture(); captureOne();
    captureTimer = setInterval(captureOne, Math.max(50, Number($('capture-ms').value) || 200));
  };
  $('capture').onpointerup = $('capture').onpointercancel = $('capture').onlostpointercapture = stopCapture;
  // A new run waits for the last one's frames in flight: never more than one frame per worker.
  $('live').onchange = () => { state.live = $('live').checked; if (state.live) state.liveRun = (state.liveRun ?? Promise.resolve()).then(liveLoop); };
  $('predict-files').onchange = () => classifyFiles([...$('predict-files').files]);
  $('save').onclick = () => saveProject().catch((e) => showError(e.message));
  $('export-onnx').onclick = () => exportOnnx().catch((e) => showError(e.message));
  $('open').onchange = () => openProject($('open').files[0]);
  document.addEventListener('paste', (e) => {
    const files = [...(e.clipboardData?.files ?? [])];
    const c = classById(state.selected);
    if (files.length && c) { e.preventDefault(); addImages(c, files); }
  });
  const use = $('predictions').parentElement;        // photos dropped on "Use it" are classified
  use.ondragover = (e) => e.preventDefault();
  use.ondrop = (e) => { e.preventDefault(); classifyFiles([...e.dataTransfer.files]); };
  const section = $('classes').parentElement;
  section.ondragover = (e) => e.preventDefault();
  section.ondrop = async (e) => {
    e.preventDefault();
    const { out, folders } = await droppedFiles(e.dataTransfer.items);
    if (folders === 1 && out.every((o) => o.path.split('/').length >= 4)) await addClassFolders(out);
    else if (classById(state.selected)) await addImages(classById(state.selected), out.map((o) => o.file));
  };
}

wire();
addClass(); addClass();
load().catch((e) => { showError(e.message); setStatus('error'); });
