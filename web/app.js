// DenseLab page: downloads the model (with progress), drives the inference worker,
// and renders the classification and the Applications API experiment.
// The photo is read locally and only ever sent to the worker on this page.
import {
  pyShape, formatCount, formatBytes, drawRgb, greyOf, drawFeatureMap, drawStrip, renderPredictions,
} from './render.js';
import { download, keepOfflineCopy, registerServiceWorker } from './loading.js';
import { clearError, clearFieldErrors, showError, showFieldError, wireErrorClose } from './page-errors.js';
import { decodedNote } from './browser-decode.js';
import { PHOTO as DEFAULTS } from './defaults.js';
import { WorkerClient } from './worker-client.js';

// ?model=f16 loads the float16-storage file: half the download, computed in float32,
// probabilities within ~5e-3 of the exact float32 weights (the default).
const MODEL_URL = new URLSearchParams(location.search).get('model') === 'f16' ? 'models/densenet121-f16.dlm' : 'models/densenet121.dlm';
const LABELS_URL = 'models/imagenet_class_index.json';

const $ = (id) => document.getElementById(id);

// ---------- status and errors ----------

function setStatus(state, text = state) {
  const el = $('status');
  el.textContent = text;
  el.dataset.state = state;
}

// ---------- the inference worker ----------

const worker = new WorkerClient(new URL('./worker.js', import.meta.url), {
  name: 'the inference worker', onDeath: (e) => { showError(e.message); setStatus('error'); },
});
const call = (cmd, args = {}, transfer = []) => worker.call(cmd, args, { transfer });

// ---------- threads for one image (issue 12) ----------
// auto = navigator.hardwareConcurrency; a number chosen in the page is kept in
// localStorage. The worker uses the threaded build only when the page is
// crossOriginIsolated (serve mode's headers, or web/sw.js's from the second visit).

const THREADS_KEY = 'denselab-threads';
const cores = Math.max(1, Math.min(navigator.hardwareConcurrency || 1, 64));

function threadSetting() {
  let v = null;
  try { v = localStorage.getItem(THREADS_KEY); } catch { /* storage blocked: auto */ }
  return v && /^\d+$/.test(v) && +v >= 1 && +v <= 64 ? +v : 'auto';
}

function wireThreads() {
  const select = $('threads-setting');
  for (let t = 1; t <= Math.max(cores, 8); t++) select.add(new Option(String(t), String(t)));
  select.value = String(threadSetting());
  select.addEventListener('change', () => {
    try {
      if (select.value === 'auto') localStorage.removeItem(THREADS_KEY);
      else localStorage.setItem(THREADS_KEY, select.value);
    } catch { /* storage blocked: the choice lasts this page only */ }
    location.reload();      // the worker's WASM build is chosen at start
  });
}

function showThreadMode({ threads, why }) {
  const el = $('threads-mode');
  el.dataset.threads = String(threads);
  el.dataset.isolated = String(self.crossOriginIsolated === true);
  el.textContent = threads > 1 ? `Multi-threaded: ${threads} threads per image (${why}).` : `Single thread: ${why}.`;
}

// ---------- model download with real progress ----------

function showProgress(received, total) {
  const bar = $('model-progress');
  if (total) {
    bar.max = total;
    bar.value = received;
    $('progress-label').textContent = `Downloading the model: ${formatBytes(received)} of ${formatBytes(total)}`;
  } else {
    bar.removeAttribute('value');
    $('progress-label').textContent = `Downloading the model: ${formatBytes(received)}`;
  }
}

// ---------- the experiment's options ----------

// A whole number within the field's own min and max (stated in index.html): the page never
// asks the core for a network it cannot hold.
function wholeNumber(id, what, arg) {
  const el = $(id), v = el.value.trim(), min = Number(el.min), max = Number(el.max);
  if (!/^\d+$/.test(v) || Number(v) < min || Number(v) > max) throw Object.assign(new Error(`${what} must be a whole number from ${min} to ${max}, got "${v}"`), { arg });
  return Number(v);
}

function readOptions() {
  const classes = wholeNumber('classes', 'classes', 'classes');
  const inputShape = !$('shape-set').checked ? null
    : [['shape-h', 'height'], ['shape-w', 'width'], ['shape-c', 'channels']].map(([id, what]) => wholeNumber(id, `input_shape: ${what}`, 'input-shape'));
  return {
    includeTop: $('include-top').checked,
    weights: $('weights').value === 'imagenet' ? 'imagenet' : null,
    inputShape,
    pooling: $('pooling').value || null,
    classes,
    grayToRgb: $('gray-to-rgb').checked,   // DenseLab's extension, not a Keras argument
  };
}

function writeOptions(o) {
  $('include-top').checked = o.includeTop;
  $('weights').value = o.weights === 'imagenet' ? 'imagenet' : 'random';
  $('shape-set').checked = !!o.inputShape;
  const [h, w, c] = o.inputShape || [224, 224, 3];   // what None means: Keras's default_size
  $('shape-h').value = h;
  $('shape-w').value = w;
  $('shape-c').value = c;
  $('pooling').value = o.pooling || '';
  $('classes').value = o.classes;
  $('gray-to-rgb').checked = !!o.grayToRgb;
  syncControls();
}

function syncControls() {
  for (const id of ['shape-h', 'shape-w', 'shape-c', 'gray-to-rgb']) $(id).disabled = !$('shape-set').checked;
}

// The extension applies to a 1-channel input_shape only.
const repeatsGray = (o) => !!(o.grayToRgb && o.inputShape && o.inputShape[2] === 1);

function pyRepr(v) {
  if (v == null) return 'None';
  if (typeof v === 'boolean') return v ? 'True' : 'False';
  if (typeof v === 'string') return `'${v}'`;
  if (Array.isArray(v)) return pyShape(v);
  return String(v);
}

// With DenseLab's gray extension, what the same model is in Keras: the channel repeated by hand
// and a 3-channel input_shape.
function codeLine(o) {
  const shape = repeatsGray(o) ? [o.inputShape[0], o.inputShape[1], 3] : o.inputShape;
  const call = `DenseNet121(include_top=${pyRepr(o.includeTop)}, weights=${pyRepr(o.weights)}, ` +
    `input_shape=${pyRepr(shape)}, pooling=${pyRepr(o.pooling)}, classes=${o.classes})`;
  if (!repeatsGray(o)) return call;
  return `x = np.repeat(x, 3, axis=-1)  # DenseLab's extension, not Keras: ${pyShape(o.inputShape)} -> ${pyShape(shape)}\n${call}`;
}

// ---------- an argument's error, next to its control ----------

// Which control a reason is about (Keras's messages name the argument); null: none in particular.
const ARGUMENT_OF = [[/`classes`|^classes /, 'classes'], [/input_shape|Input size|input must have/, 'input-shape'],
  [/pooling/, 'pooling'], [/`weights`/, 'weights'], [/include_top/, 'include-top']];

function clearArgErrors() {
  clearFieldErrors();
  $('stale-note').hidden = true;
}

function showArgError(e) {
  const arg = e.arg || ARGUMENT_OF.find(([re]) => re.test(e.message))?.[1];
  if (!arg) {
    showError(`${e.message}\n(Photos are classified with the last valid model until the arguments are fixed.)`);
    setStatus('error');
    return;
  }
  clearError();
  showFieldError(arg, e.message);
  $('stale-note').hidden = false;
  setStatus('error');
}

// ---------- state and actions ----------

let model = null;        // description of the model currently built in the worker
let photo = null;        // { name, bytes: ArrayBuffer, id }
let photoSeq = 0;
let buildSeq = 0;        // only the newest rebuild and the newest classification are shown
let classifySeq = 0;
let ready = null;        // resolves when the worker has the model
let lastPooled = null;   // the pooled features shown last (read by the browser tests)

function renderModel(info) {
  model = info;
  $('model-shape').textContent = pyShape(info.kerasOutputShape);
  $('output-shape-row').hidden = true;   // until this model has run on the photo
  $('shape-lesson').hidden = true;
  $('params').textContent = `${formatCount(info.totalParams)} (trainable ${formatCount(info.trainableParams)}, ` +
    `non-trainable ${formatCount(info.nonTrainableParams)})`;
  $('features').hidden = true;
}

function clearModel() {
  model = null;
  for (const id of ['model-shape', 'output-shape', 'params']) $(id).textContent = '—';
  $('output-shape-row').hidden = true;
  $('shape-lesson').hidden = true;
  $('features').hidden = true;
}

const codeElement = (text) => Object.assign(document.createElement('code'), { textContent: text });

function inputNote(channels, grayToRgb) {
  if (channels === 3) return ' resizes with nearest neighbour, ignoring the aspect ratio.';
  if (channels === 1) return ` then, for one channel, the mean of the three preprocessed channels (shown in grey)${grayToRgb ? ', repeated 3× for the ImageNet filters (DenseLab\'s extension)' : ''}.`;
  return ` then ${channels} channels for the random network: ${channels < 3 ? `the first ${channels} preprocessed ones` : 'the 3 preprocessed ones, then constant 1s (an opaque alpha channel)'}.`;
}

// Keras's model shape has None where the model takes any size; this photo's output has numbers.
function shapeLesson(r) {
  const keras = model.kerasOutputShape, out = r.outputShape;
  if (!keras.slice(1).includes(null)) return null;
  return `Keras says None for height and width because this model takes any image size; this photo, loaded at ` +
    `${r.input.height}×${r.input.width}, gives a ${out[1]}×${out[2]} grid of ${out[3]} features. That difference is what ` +
    `global pooling removes: pooling='avg' or 'max' turns any grid into one (None, ${out[3]}) vector, so a classifier can follow it.`;
}

// Top 5 when decode_predictions applies; otherwise why not (Keras's error when it would raise one).
function renderTop(r) {
  const top = !!r.predictions;
  $('top-heading').hidden = !top;
  $('no-top').hidden = top;
  if (r.decodeError) $('no-top').replaceChildren(codeElement('decode_predictions'), ` needs the 1000 ImageNet classes; this model has ${r.outputShape[1]}: Keras's error is below.`);
  else $('no-top').replaceChildren('With ', codeElement('include_top=False'), ' there is no classifier: see the features in section 2.');
  if (top) renderPredictions($('predictions'), r.predictions);
  else $('predictions').replaceChildren();
  $('keras-out').hidden = !r.formatted && !r.decodeError;
  $('decoded-label').replaceChildren(r.decodeError ? 'What Keras raises for ' : 'What Keras prints for ',
    codeElement(r.decodeError ? 'decode_predictions(preds, top=5)' : 'decode_predictions(preds, top=5)[0]'), ':');
  $('decoded').textContent = r.decodeError ? `ValueError: ${r.decodeError}` : r.formatted || '';
  $('decoded').parentElement.classList.toggle('keras-error', !!r.decodeError);
}

function renderResult(r) {
  const inp = r.input;
  $('results').hidden = false;
  $('results').dataset.file = photo.name;
  $('photo-size').textContent = `${inp.originalWidth}×${inp.originalHeight} px`;
  $('input-size').textContent = pyShape([inp.height, inp.width, inp.channels]);
  const note = $('input-note');
  note.replaceChildren(codeElement(`load_img(path, target_size=(${inp.height}, ${inp.width}))`), inputNote(inp.channels, repeatsGray(model.options)));
  const decoded = $('decoder-note');
  decoded.hidden = !r.decodedBy;
  decoded.textContent = r.decodedBy ? decodedNote(r.decodedBy) : '';
  drawRgb($('input-canvas'), inp.channels === 1 ? greyOf(inp.rgb) : inp.rgb, inp.width, inp.height);
  $('output-shape').textContent = pyShape(r.outputShape);
  $('output-shape-row').hidden = false;
  const lesson = shapeLesson(r);
  $('shape-lesson').hidden = !lesson;
  $('shape-lesson').textContent = lesson || '';
  renderTop(r);

  $('timing').textContent = `Inference ${r.inferenceMs.toFixed(0)} ms (decode + resize + preprocess ${r.prepMs.toFixed(0)} ms${r.preparedAhead ? ', done while the page showed the photo' : ''}), in a Web Worker on ${$('threads-mode').dataset.threads || 1} thread(s).`;

  if (r.featureMap) {
    const fm = r.featureMap;
    $('features').hidden = false;
    $('fm-size').textContent = `(${fm.h}×${fm.w} positions × ${fm.c} channels)`;
    drawFeatureMap($('heatmaps'), fm);
    const how = model && model.options.pooling;
    $('pooled-label').textContent = how
      ? `— the model's output with pooling='${how}' (${r.pooled.length} values)`
      : `— what pooling='avg' would give: the mean of each channel (${r.pooled.length} values)`;
    drawStrip($('pooled'), r.pooled);
    lastPooled = r.pooled;
  } else {
    $('features').hidden = true;
  }
}

// The page's own drawing goes first when the inference takes every core: run together, the
// photo's decode and the frame's paint, raster and compositing (~20–40 ms of CPU in Chromium)
// took a core from the 2-thread inference at its start (issue 12: part of the page's 88 ms
// against 72 in a bench worker that draws nothing, on 2 cores).
// Two animation frames: the one that paints the change, then the next, by which it is shown.
// A hidden page gets no frames: at most 100 ms.
function pageDrawn() {
  if (Number($('threads-mode').dataset.threads || 1) < cores) return null;   // a core is left for drawing
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, 100);
    requestAnimationFrame(() => requestAnimationFrame(() => { clearTimeout(timer); resolve(); }));
  });
}

async function classify() {
  if (!photo) return;
  const mine = ++classifySeq;
  setStatus('working', 'working…');
  await ready;
  await pageDrawn();
  if (mine !== classifySeq) return;
  try {
    const bytes = photo.bytes.slice(0);
    const r = await call('classify', { photoId: photo.id, bytes }, [bytes]);
    if (mine !== classifySeq) return;
    clearError(); // an argument error stays beside its control
    renderResult(r);
    setStatus('done');
  } catch (e) {
    if (mine !== classifySeq) return;
    $('results').hidden = true;
    $('keras-out').hidden = true;
    $('output-shape-row').hidden = true;
    $('shape-lesson').hidden = true;
    showError(`${photo.name}: ${e.message}`);
    setStatus('error');
  }
}

async function rebuild() {
  const mine = ++buildSeq;
  let options;
  try {
    options = readOptions();
  } catch (e) {
    clearArgErrors();
    showArgError(e);
    return;
  }
  $('code-line').textContent = codeLine(options);
  setStatus('working', 'working…');
  await ready;
  const classified = classifySeq; // the worker answers in order: a later request sees the new model
  try {
    const info = await call('build', { options });
    const summary = await call('summary');
    if (mine !== buildSeq) return;
    clearError();
    clearArgErrors();
    renderModel(info);
    $('summary').textContent = summary.text;
  } catch (e) {
    if (mine !== buildSeq) return;
    clearModel();
    clearArgErrors();
    showArgError(e);
    return;
  }
  if (!photo) setStatus('ready');
  else if (classifySeq === classified) await classify();
}

// The worker decodes and preprocesses the photo while the page decodes and paints it itself:
// a 12 MP phone photo takes longer to decode than the inference (bench/threads.js --photos).
// classify then finds it ready. A failure (a bad file, no network yet) is left to classify, which
// decodes again and says why.
function prepare(p) {
  const bytes = p.bytes.slice(0);
  call('prepare', { photoId: p.id, bytes }, [bytes]).catch(() => {});
}

function usePhoto(file) {
  if (!file) return;
  setStatus('working', 'working…');
  const name = file.name || 'pasted image';
  file.arrayBuffer().then((bytes) => {
    photo = { name, bytes, id: ++photoSeq };
    prepare(photo);
    const img = $('photo');
    if (img.src) URL.revokeObjectURL(img.src);
    img.src = URL.createObjectURL(file);
    img.alt = `Your photo: ${name}`;
    return img.decode().catch(() => {}).then(classify);   // decoded before the inference starts (pageDrawn)
  }, (e) => {
    showError(`could not read ${name}: ${e.message}`);
    setStatus('error');
  });
}

// ---------- wiring ----------

function wire() {
  $('image-input').addEventListener('change', (e) => usePhoto(e.target.files[0]));

  const zone = $('dropzone');
  window.addEventListener('dragover', (e) => {
    e.preventDefault();
    zone.classList.add('dragging');
  });
  window.addEventListener('dragleave', (e) => {
    if (!e.relatedTarget) zone.classList.remove('dragging');
  });
  window.addEventListener('drop', (e) => {
    e.preventDefault();
    zone.classList.remove('dragging');
    usePhoto(e.dataTransfer.files[0]);
  });
  document.addEventListener('paste', (e) => {
    const item = Array.from(e.clipboardData?.items || []).find((i) => i.kind === 'file');
    if (item) usePhoto(item.getAsFile());
  });

  let timer = 0;
  const later = () => {
    syncControls();
    clearTimeout(timer);
    timer = setTimeout(rebuild, 250);
  };
  $('api-form').addEventListener('input', later);
  $('api-form').addEventListener('change', later);
  $('api-form').addEventListener('submit', (e) => e.preventDefault());
  wireErrorClose();
  $('reset').addEventListener('click', () => {
    writeOptions(DEFAULTS);
    clearTimeout(timer);
    rebuild();
  });
}

async function start() {
  const t0 = performance.now();
  wire();
  writeOptions(DEFAULTS);
  setStatus('loading', 'loading…');
  let done;
  ready = new Promise((resolve) => { done = resolve; });

  wireThreads();
  const setting = threadSetting();
  const started = call('start', { threads: setting === 'auto' ? cores : setting }); // compile the WASM core while the model downloads
  started.then(showThreadMode, () => {});      // a failure is reported by init below
  const reg = await registerServiceWorker();
  const [dlm, labels] = await Promise.all([
    download(MODEL_URL, showProgress),
    fetch(LABELS_URL).then((r) => {
      if (!r.ok) throw new Error(`could not download ${LABELS_URL}: HTTP ${r.status}`);
      return r.text();
    }),
  ]);
  $('progress-label').textContent = 'Checking and loading the model…';
  const modelBytes = dlm.byteLength; // the buffer is transferred to the worker below
  await call('init', { model: dlm.buffer, labels }, [dlm.buffer]);
  const info = await call('build', { options: DEFAULTS });
  const summary = await call('summary');
  renderModel(info);
  $('summary').textContent = summary.text;

  const ms = performance.now() - t0;
  $('status').dataset.loadMs = ms.toFixed(0);
  $('progress-label').textContent = `Model ready in ${(ms / 1000).toFixed(1)} s (${formatBytes(modelBytes)}).`;
  $('model-progress').value = $('model-progress').max;
  $('loadbar').classList.add('loaded');
  done();
  if (!photo) setStatus('ready');
  // Queued before any photo: the first photo then runs optimised code (web/worker.js warmUp).
  call('warmUp').then((w) => { $('status').dataset.warmUpMs = w.ms.toFixed(0); }, () => {});
  keepOfflineCopy(reg, [MODEL_URL, LABELS_URL]);   // only this page's files: ?model=f16 stores no float32 file
}

// Hooks for the browser tests (harmless for users).
window.__denselabTest = { pooled: () => (lastPooled ? Array.from(lastPooled) : null) };

// Opened as a file, web/file-check.js explains how to serve the folder: nothing to load here.
if (location.protocol !== 'file:') start().catch((e) => {
  $('progress-label').textContent = 'The model could not be loaded.';
  showError(e.message);
  setStatus('error');
});
