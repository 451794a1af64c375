// Drawing for the Fashion-MNIST page: plain DOM and canvas (no inline styles: CSP;
// colours set through the CSSOM are allowed).

// A gray w x h image (0..255) on a canvas, pixel for pixel (CSS scales it up).
export function drawGray(canvas, gray, w, h) {
  canvas.width = w;
  canvas.height = h;
  const ctx = canvas.getContext('2d');
  const img = ctx.createImageData(w, h);
  for (let i = 0; i < w * h; i++) {
    img.data[4 * i] = img.data[4 * i + 1] = img.data[4 * i + 2] = gray[i];
    img.data[4 * i + 3] = 255;
  }
  ctx.putImageData(img, 0, 0);
}

const SHORT = ['T-shirt', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Boot'];

// 10 x 10 confusion matrix (rows: truth) as a heatmap table, with each class's accuracy.
export function renderConfusion(table, confusion, classes) {
  table.replaceChildren();
  const k = confusion.length;
  const head = table.createTHead().insertRow();
  const corner = document.createElement('th');
  corner.className = 'corner';
  corner.textContent = 'true ↓ predicted →';
  head.append(corner);
  for (let j = 0; j < k; j++) {
    const th = document.createElement('th');
    th.scope = 'col';
    th.textContent = SHORT[j] ?? classes[j];
    th.title = `predicted ${classes[j]}`;
    head.append(th);
  }
  const accHead = document.createElement('th');
  accHead.scope = 'col';
  accHead.textContent = 'accuracy';
  head.append(accHead);
  const body = table.createTBody();
  const max = Math.max(1, ...confusion.flat());
  for (let i = 0; i < k; i++) {
    const row = body.insertRow();
    row.dataset.testid = 'confusion-row';
    const th = document.createElement('th');
    th.scope = 'row';
    th.textContent = classes[i];
    row.append(th);
    const total = confusion[i].reduce((a, b) => a + b, 0);
    for (let j = 0; j < k; j++) {
      const v = confusion[i][j], td = row.insertCell();
      td.textContent = v;
      const t = v / max;
      // Blue for the diagonal (right), red off it (wrong); stronger = more images.
      td.style.backgroundColor = v === 0 ? '' : i === j ? `rgba(47, 111, 222, ${0.12 + 0.88 * t})` : `rgba(180, 35, 24, ${0.12 + 0.88 * Math.min(1, t * 4)})`;
      if ((i === j && t > 0.45) || (i !== j && t * 4 > 0.45)) td.className = 'strong';
      td.title = `${classes[i]} predicted as ${classes[j]}: ${v}`;
    }
    const acc = row.insertCell();
    acc.className = 'acc';
    acc.textContent = total ? `${((confusion[i][i] / total) * 100).toFixed(1)} %` : '—';
    acc.dataset.accuracy = total ? String(confusion[i][i] / total) : '';
  }
}

// Misclassified test images: [{ index, pixels (784), truth, predicted }].
export function renderGallery(box, items) {
  box.replaceChildren(...items.map((it) => {
    const fig = document.createElement('figure');
    const canvas = document.createElement('canvas');
    canvas.className = 'pixelated';
    drawGray(canvas, it.pixels, 28, 28);
    canvas.setAttribute('role', 'img');
    canvas.setAttribute('aria-label', `test image ${it.index}: a ${it.truth} taken for a ${it.predicted}`);
    const cap = document.createElement('figcaption');
    const t = document.createElement('span'), p = document.createElement('span');
    t.className = 'truth';
    t.textContent = it.truth;
    p.className = 'predicted';
    p.textContent = `→ ${it.predicted}`;
    cap.append(t, p);
    fig.append(canvas, cap);
    return fig;
  }));
}

// Loss (left axis, from 0), training accuracy and validation accuracy (right axis, 0..1; `val`
// absent or below 0: no validation set) per epoch; best (1-based, 0: none): the epoch whose
// weights were kept, marked with a dashed line.
export function drawCurve(canvas, points, epochs, best = 0) {
  const dpr = window.devicePixelRatio || 1;
  const cssW = canvas.clientWidth || 640, cssH = canvas.clientHeight || 200;
  canvas.width = Math.round(cssW * dpr);
  canvas.height = Math.round(cssH * dpr);
  const ctx = canvas.getContext('2d');
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, cssW, cssH);
  const L = 44, R = 44, T = 10, B = 26, w = cssW - L - R, h = cssH - T - B;
  const pts = points.filter(Boolean);
  const maxLoss = Math.max(0.1, ...pts.map((p) => p.loss)) * 1.05;
  const x = (e) => L + (epochs > 1 ? ((e - 1) / (epochs - 1)) * w : w / 2);
  ctx.font = '11px system-ui, sans-serif';
  ctx.strokeStyle = '#dde2ea';
  ctx.fillStyle = '#5c6778';
  ctx.lineWidth = 1;
  for (let i = 0; i <= 4; i++) {
    const y = T + (h * i) / 4;
    ctx.beginPath(); ctx.moveTo(L, y); ctx.lineTo(L + w, y); ctx.stroke();
    ctx.textAlign = 'right'; ctx.fillText((maxLoss * (1 - i / 4)).toFixed(2), L - 6, y + 4);
    ctx.textAlign = 'left'; ctx.fillText((1 - i / 4).toFixed(2), L + w + 6, y + 4);
  }
  ctx.textAlign = 'center';
  const step = Math.max(1, Math.ceil(epochs / 10));
  for (let e = 1; e <= epochs; e += step) ctx.fillText(String(e), x(e), T + h + 16);
  const line = (colour, value) => {
    ctx.strokeStyle = colour;
    ctx.fillStyle = colour;
    ctx.lineWidth = 2;
    ctx.beginPath();
    points.forEach((p, i) => { if (p) { const px = x(i + 1), py = T + h * (1 - value(p)); if (i === 0) ctx.moveTo(px, py); else ctx.lineTo(px, py); } });
    ctx.stroke();
    points.forEach((p, i) => { if (p) { ctx.beginPath(); ctx.arc(x(i + 1), T + h * (1 - value(p)), 3, 0, 2 * Math.PI); ctx.fill(); } });
  };
  if (best) {
    ctx.save();
    ctx.strokeStyle = ctx.fillStyle = '#5c6778';
    ctx.setLineDash([4, 3]);
    ctx.beginPath(); ctx.moveTo(x(best), T); ctx.lineTo(x(best), T + h); ctx.stroke();
    ctx.textAlign = 'left';
    ctx.fillText('best', x(best) + 4, T + 10);
    ctx.restore();
  }
  line('#b42318', (p) => p.loss / maxLoss);
  line('#2f6fde', (p) => p.acc);
  if (points.some((p) => p && p.val >= 0)) line('#1a7f37', (p) => p.val);
}

// The most accurate row (the first of equals).
export const bestRow = (rows) => rows.reduce((a, b) => (b.accuracy > a.accuracy ? b : a), rows[0]);

// The lesson under the results table, computed from its rows ({ classifier, accuracy }; labels:
// classifier -> its name): the best classifier (highlighted), its
// margin over the raw-pixel baseline, and, when both are there, fine-tuning against the best
// frozen-feature classifier. -> { best (the row to highlight), text }, or null (no rows).
export function lessonSentence(rows, labels) {
  if (!rows.length) return null;
  const pct = (a) => `${(a * 100).toFixed(2)} %`, pts = (d) => `${Math.abs(d * 100).toFixed(2)} points`;
  const best = bestRow(rows);
  const pixels = rows.find((r) => r.classifier === 'pixels-linear-svm');
  const frozen = rows.filter((r) => r.classifier !== 'pixels-linear-svm' && r.classifier !== 'finetune');
  const tunedRows = rows.filter((r) => r.classifier === 'finetune'), tuned = tunedRows.length ? bestRow(tunedRows) : null;
  const name = (r) => labels[r.classifier] ?? r.classifier;
  let s = `Best: ${name(best)} at ${pct(best.accuracy)} test accuracy`;
  if (pixels && best !== pixels) s += `, ${pts(best.accuracy - pixels.accuracy)} ${best.accuracy >= pixels.accuracy ? 'above' : 'below'} the raw-pixel baseline (${pct(pixels.accuracy)})`;
  else if (pixels) s += ': the DenseNet features did not beat the raw pixels here';
  if (tuned && frozen.length) {
    const f = bestRow(frozen), d = tuned.accuracy - f.accuracy;
    s += `; fine-tuning conv5 with the head ${d >= 0 ? 'gained' : 'lost'} ${pts(d)} ${d >= 0 ? 'over' : 'against'} the best classifier on frozen features (${name(f)}, ${pct(f.accuracy)})`;
  }
  return { best, text: `${s}.` };
}
