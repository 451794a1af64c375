// How both pages get their files: download() with byte progress, and the service worker
// (web/sw.js) that keeps a verified offline copy of each page's files: keepOfflineCopy()
// (the pill, the stored size, Remove) and the "new version" notice.
import { release } from './denselab.js';

// The whole body of url as a Uint8Array; onBytes(received, total) after every chunk
// (total 0 when unknown: a compressing host reports the compressed length).
export async function download(url, onBytes = () => {}) {
  const resp = await fetchOk(url);
  const total = resp.headers.get('Content-Encoding') ? 0 : Number(resp.headers.get('Content-Length')) || 0;
  return total ? readInto(resp.body, new Uint8Array(total), `download of ${url}`, onBytes) : readAll(resp.body, onBytes);
}

// fetch(url), rejecting an HTTP error.
export async function fetchOk(url) {
  const resp = await fetch(url);
  if (!resp.ok) throw new Error(`could not download ${url}: HTTP ${resp.status}${resp.statusText ? ` ${resp.statusText}` : ''}`);
  return resp;
}

// A stream read into out, which it must fill exactly (what: the error messages' subject): each chunk
// copied and released at once.
export async function readInto(stream, out, what, onBytes = () => {}) {
  const reader = stream.getReader();
  let received = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (received + value.length > out.length) { reader.cancel().catch(() => {}); throw new Error(`${what} is longer than its ${out.length} bytes`); }
    out.set(value, received);
    received += value.length;   // before release(), which empties value
    release(value);
    onBytes(received, out.length);
  }
  if (received !== out.length) throw new Error(`${what} incomplete: ${received} of ${out.length} bytes`);
  return out;
}

// A stream of unknown length: its chunks, joined once it ends.
async function readAll(stream, onBytes) {
  const reader = stream.getReader(), chunks = [];
  let received = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    received += value.length;
    onBytes(received, 0);
  }
  const out = new Uint8Array(received);
  let at = 0;
  for (const c of chunks) { out.set(c, at); at += c.length; }
  release(...chunks);
  return out;
}

// Registers the site's service worker (null where there is none: insecure origin, old browser,
// or registration refused). On a first visit it waits up to waitMs for the worker to take
// control, so the large downloads that follow are cached as they stream in.
export async function registerServiceWorker({ waitMs = 5000 } = {}) {
  if (!('serviceWorker' in navigator) || !window.isSecureContext) return null;
  watchForNewVersion();
  let reg;
  try {
    reg = await navigator.serviceWorker.register('./sw.js', { scope: './' });
  } catch (e) {
    console.warn('service worker not available:', e.message);
    return null;
  }
  if (!navigator.serviceWorker.controller) {
    await new Promise((resolve) => {
      const timer = setTimeout(resolve, waitMs);
      navigator.serviceWorker.addEventListener('controllerchange', () => { clearTimeout(timer); resolve(); }, { once: true });
    });
  }
  return reg;
}

// ---------- the offline copy: what is cached, removing it, a newer version ----------

const $ = (id) => document.getElementById(id);
const megabytes = (n) => `${(n / 1e6).toFixed(1)} MB`;

// One question to the active service worker; the answer comes back on a MessagePort.
function askServiceWorker(type, extra = {}) {
  return navigator.serviceWorker.ready.then((reg) => new Promise((resolve, reject) => {
    const channel = new MessageChannel();
    channel.port1.onmessage = (e) => (e.data?.error ? reject(new Error(e.data.error)) : resolve(e.data));
    reg.active.postMessage({ type, ...extra }, [channel.port2]);
  }));
}

function showCacheSize(bytes) {
  $('offline-copy').hidden = false;
  $('cache-size').dataset.bytes = bytes;
  $('cache-size').textContent = bytes
    ? `Stored in this browser for offline use: ${megabytes(bytes)}.`
    : 'Nothing stored in this browser for offline use.';
  $('cache-remove').hidden = !bytes;
}

// After the page has loaded: has the service worker cache the site's shell and `files` (the
// large files this page uses, relative paths), then shows the "available offline" pill and
// the cached size with a Remove button (elements #offline, #offline-copy, #cache-size,
// #cache-remove in the page).
export async function keepOfflineCopy(reg, files) {
  if (!reg) return;
  $('cache-remove').onclick = removeOfflineCopy;
  try {
    const s = await askServiceWorker('complete', { files });
    const pill = $('offline');
    pill.hidden = !s.ready;
    pill.dataset.version = s.version;
    pill.title = s.ready ? `Cached for offline use (version ${s.version})` : `Not cached: ${s.missing.join(', ')}`;
    showCacheSize(s.bytes);
  } catch (e) {
    console.warn('offline cache check failed:', e.message);
  }
}

async function removeOfflineCopy() {
  const button = $('cache-remove');
  button.disabled = true;
  try {
    const r = await askServiceWorker('clear');
    // Unregistered, the worker stores nothing more until the next visit registers it again.
    const reg = await navigator.serviceWorker.getRegistration();
    if (reg) await reg.unregister();
    $('offline').hidden = true;
    showCacheSize(r.bytes);
    $('cache-size').textContent = `Removed ${megabytes(r.removed)} from this browser. The next visit stores this page's files again.`;
  } catch (e) {
    $('cache-size').textContent = `Could not remove the offline copy: ${e.message}`;
  } finally {
    button.disabled = false;
  }
}

// A newer build took over (web/sw.js activates at once): the page's code is the old one until
// the user reloads, so say so. The first visit's take-over is not an update.
function watchForNewVersion() {
  let controlled = !!navigator.serviceWorker.controller;
  navigator.serviceWorker.addEventListener('controllerchange', () => {
    const first = !controlled;
    controlled = true;
    if (first || document.querySelector('.update-notice')) return;
    const box = document.createElement('div');
    box.className = 'update-notice';
    box.setAttribute('role', 'status');
    box.dataset.testid = 'update-notice';
    const text = document.createElement('span');
    text.textContent = 'A new version of DenseLab is available.';
    const reload = document.createElement('button');
    reload.type = 'button';
    reload.textContent = 'Reload';
    reload.addEventListener('click', () => location.reload());
    box.append(text, reload);
    document.body.append(box);
  });
}
