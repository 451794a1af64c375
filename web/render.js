// Drawing helpers for the lab page: everything is plain DOM or canvas (no inline styles: CSP).

// Python's repr of a shape tuple: [null, 7, 7, 1024] -> "(None, 7, 7, 1024)", [5] -> "(5,)".
export function pyShape(shape) {
  const items = shape.map((d) => (d == null ? 'None' : String(d)));
  return items.length === 1 ? `(${items[0]},)` : `(${items.join(', ')})`;
}

export function formatCount(n) {
  return Number(n).toLocaleString('en-US');
}

export function formatBytes(n) {
  return n >= 1e6 ? `${(n / 1e6).toFixed(1)} MB` : `${Math.round(n / 1e3)} kB`;
}

// A perceptually ordered colour map (viridis, 5 stops, linearly interpolated).
const VIRIDIS = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];
function colour(t) {
  const x = Math.min(Math.max(t, 0), 1) * (VIRIDIS.length - 1);
  const i = Math.min(Math.floor(x), VIRIDIS.length - 2);
  const f = x - i;
  const a = VIRIDIS[i];
  const b = VIRIDIS[i + 1];
  return [a[0] + f * (b[0] - a[0]), a[1] + f * (b[1] - a[1]), a[2] + f * (b[2] - a[2])];
}

// The network input (uint8 RGB or, for a 1-channel model, shown as grey) on a canvas.
export function drawRgb(canvas, rgb, width, height) {
  canvas.width = width;
  canvas.height = height;
  const ctx = canvas.getContext('2d');
  const img = ctx.createImageData(width, height);
  for (let i = 0, n = width * height; i < n; i++) {
    img.data[4 * i] = rgb[3 * i];
    img.data[4 * i + 1] = rgb[3 * i + 1];
    img.data[4 * i + 2] = rgb[3 * i + 2];
    img.data[4 * i + 3] = 255;
  }
  ctx.putImageData(img, 0, 0);
}

export function greyOf(rgb) {
  const g = new Uint8Array(rgb.length);
  for (let i = 0; i < rgb.length; i += 3) {
    const v = Math.round((rgb[i] + rgb[i + 1] + rgb[i + 2]) / 3);
    g[i] = g[i + 1] = g[i + 2] = v;
  }
  return g;
}

// Channel k of an h×w×c (NHWC) feature map as a heatmap, scaled to [0, max of the map].
function drawChannel(canvas, fm, k, max) {
  const { h, w, c, data } = fm;
  canvas.width = w;
  canvas.height = h;
  const ctx = canvas.getContext('2d');
  const img = ctx.createImageData(w, h);
  for (let i = 0; i < h * w; i++) {
    const [r, g, b] = colour(max > 0 ? data[i * c + k] / max : 0);
    img.data[4 * i] = r;
    img.data[4 * i + 1] = g;
    img.data[4 * i + 2] = b;
    img.data[4 * i + 3] = 255;
  }
  ctx.putImageData(img, 0, 0);
}

// The `count` channels with the highest mean activation, one heatmap each.
export function drawFeatureMap(container, fm, count = 6) {
  const { h, w, c, data } = fm;
  const mean = new Float64Array(c);
  for (let i = 0; i < h * w; i++) for (let k = 0; k < c; k++) mean[k] += data[i * c + k];
  const order = Array.from(mean.keys()).sort((a, b) => mean[b] - mean[a]).slice(0, count);
  let max = 0;
  for (const k of order) for (let i = 0; i < h * w; i++) max = Math.max(max, data[i * c + k]);
  container.replaceChildren(...order.map((k) => {
    const fig = document.createElement('figure');
    const canvas = document.createElement('canvas');
    canvas.className = 'pixelated heat';
    canvas.setAttribute('aria-label', `feature channel ${k}`);
    drawChannel(canvas, fm, k, max);
    const cap = document.createElement('figcaption');
    cap.textContent = `#${k} · mean ${(mean[k] / (h * w)).toFixed(2)}`;
    fig.append(canvas, cap);
    return fig;
  }));
}

// A vector as a strip of bars (one per value), baseline at zero.
export function drawStrip(canvas, v) {
  const n = v.length;
  canvas.width = Math.max(n, 1);
  const H = canvas.height;
  const ctx = canvas.getContext('2d');
  ctx.clearRect(0, 0, canvas.width, H);
  let lo = 0;
  let hi = 0;
  for (const x of v) { lo = Math.min(lo, x); hi = Math.max(hi, x); }
  const span = hi - lo || 1;
  const zero = H - ((0 - lo) / span) * H;
  for (let i = 0; i < n; i++) {
    const y = H - ((v[i] - lo) / span) * H;
    const [r, g, b] = colour(hi > 0 ? Math.max(v[i], 0) / hi : 0);
    ctx.fillStyle = `rgb(${r | 0},${g | 0},${b | 0})`;
    ctx.fillRect(i, Math.min(y, zero), 1, Math.max(Math.abs(zero - y), 1));
  }
}

// Top-k rows as labelled bars; data-* attributes carry the exact values for tests.
export function renderPredictions(list, preds) {
  list.replaceChildren(...preds.map((p, rank) => {
    const li = document.createElement('li');
    li.className = 'prediction';
    li.dataset.testid = 'prediction';
    li.dataset.wnid = p.wnid;
    li.dataset.label = p.label;
    li.dataset.prob = String(p.prob);
    li.dataset.index = String(p.index);
    const name = document.createElement('span');
    name.className = 'pred-label';
    name.textContent = p.label.replace(/_/g, ' ');
    const wnid = document.createElement('span');
    wnid.className = 'pred-wnid';
    wnid.textContent = p.wnid || `#${p.index}`;
    const pct = document.createElement('span');
    pct.className = 'pred-pct';
    pct.textContent = `${(p.prob * 100).toFixed(p.prob >= 0.1 ? 1 : 2)}%`;
    const bar = document.createElement('span');
    bar.className = 'bar';
    const fill = document.createElement('span');
    fill.className = rank === 0 ? 'fill fill-top' : 'fill';
    fill.style.width = `${Math.max(p.prob * 100, 0.5)}%`; // CSSOM, allowed by the CSP
    bar.append(fill);
    bar.setAttribute('role', 'img');
    bar.setAttribute('aria-label', `${(p.prob * 100).toFixed(1)} percent`);
    li.append(name, wnid, pct, bar);
    return li;
  }));
}
