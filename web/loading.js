// How both pages get their files: download() with byte progress, and the service worker
// (web/sw.js) that keeps a verified offline copy of the site.

// The whole body of url as a Uint8Array; onBytes(received, total) after every chunk
// (total 0 when unknown: a compressing host reports the compressed length).
export async function download(url, onBytes = () => {}) {
  const resp = await fetch(url);
  if (!resp.ok) throw new Error(`could not download ${url}: HTTP ${resp.status}${resp.statusText ? ` ${resp.statusText}` : ''}`);
  const total = resp.headers.get('Content-Encoding') ? 0 : Number(resp.headers.get('Content-Length')) || 0;
  const reader = resp.body.getReader();
  const chunks = [];
  let received = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    received += value.length;
    onBytes(received, total);
  }
  if (total && received !== total) throw new Error(`download of ${url} incomplete: ${received} of ${total} bytes`);
  const out = new Uint8Array(received);
  let at = 0;
  for (const c of chunks) { out.set(c, at); at += c.length; }
  return out;
}

// Registers the site's service worker (null where there is none: insecure origin, old browser,
// or registration refused). On a first visit it waits up to waitMs for the worker to take
// control, so the large downloads that follow are cached as they stream in.
export async function registerServiceWorker({ waitMs = 5000 } = {}) {
  if (!('serviceWorker' in navigator) || !window.isSecureContext) return null;
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
