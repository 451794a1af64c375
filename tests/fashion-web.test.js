// Browser tests of the Fashion-MNIST page (dist/fashion.html) in Debian's headless Chromium via
// playwright-core: 2,000 train / 500 test at S=32 with the linear SVM, the new head, fine-tuning
// (conv5 + head, its rows from the feature workers' same pass) and the pixel baseline; accuracies
// equal `node wasm/cli.js fashion ... --json` (the new head's and fine-tuning's too, with their
// validation split); the lesson under the table names the best row, which is highlighted, and the
// curves have a validation accuracy, fine-tuning's its kept epoch; a fine-tuning stop keeps the
// best epoch's weights (the CLI's accuracy for the epochs run); a downloaded fine-tuned model
// classifies a photo; a feature worker killed
// mid-extraction and a cancel + resume give bit-identical features; a reload takes them from the
// IndexedDB cache; the RBF SVM's pairs on the classifier worker's threads, stopped and resumed,
// give the CLI's accuracy and the model bytes of the pair workers' way; a downloaded classifier
// loads again and classifies a photo; fine-tuning's rows reach the classifier worker only when
// fine-tuning starts (from the cache), the trained classifiers' bytes and the training images are
// kept in the cache rather than on the page (the best classifier classifies a photo), the linear SVM
// trains on the features as float16 and the new head on float32 ones read back (the CLI's default), and a failed
// pixel fit leaves the page its images; a clear error for
// an RBF SVM on too many points; the page reloads offline; no request leaves the origin.
// Saves build/screenshots/fashion.png and fashion-phone.png.
import { describe, it as test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launchChromium } from './helpers.js';
import { FASHION } from '../web/defaults.js';
import { checksum } from '../wasm/experiment.js';
import os from 'node:os';
import fs from 'node:fs';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dist = path.join(root, 'dist');
const shotDir = path.join(root, 'build', 'screenshots');
const photo = path.join(root, '..', 'shared', 'images', 'hot_dog.jpg');
const SLOW = 240_000;
const N = 2000, M = 500, SIZE = 32, EPOCHS = 3, FT_EPOCHS = 2;   // fine-tuning's epochs cost the most: two
const CLASSES = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'];

let server = null, browser = null, context = null, page = null, userDir = null, origin = null;
// The checkboxes of the five classifiers, in the table's order.
const USE = ['use-linear-svm', 'use-rbf-svm', 'use-softmax', 'use-finetune', 'use-pixels-linear-svm'];
const choose = async (...on) => { for (const id of USE) await page.setChecked(`[data-testid=${id}]`, on.includes(id)); };
const requests = [];
const cli = {};

// `node wasm/cli.js fashion ... --json` for one classifier, with the page's default parameters
// (changed by `params`) -> its result row.
function runCli(classifier, params = {}) {
  const flags = Object.entries({ ...FASHION.classifiers[classifier].params, ...params }).flatMap(([k, v]) => [`--${k}`, String(v)]);
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [path.join(root, 'wasm', 'cli.js'), 'fashion', '--size', String(SIZE), '--train', String(N),
      '--test', String(M), '--classifier', classifier, ...flags, '--json'], { cwd: root, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`node wasm/cli.js fashion --classifier ${classifier} failed: ${stderr || err.message}`));
      try { resolve(JSON.parse(stdout).results[0]); } catch (e) { reject(new Error(`the CLI printed no JSON (${e.message}): ${stdout.slice(0, 200)}`)); }
    });
  });
}

const text = (id) => page.textContent(`[data-testid=${id}]`);
const hook = (name, ...args) => page.evaluate(([n, a]) => window.__denselabTest[n](...a), [name, args]);

// `node wasm/cli.js features` on the same images -> the checksum of its floats (train rows, then test
// rows), which the page's must equal.
function cliFeaturesChecksum() {
  const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'denselab-features-')), 'features.npy');
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [path.join(root, 'wasm', 'cli.js'), 'features', '--size', String(SIZE), '--train', String(N), '--test', String(M),
      '--out', out, '--json'], { cwd: root }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`node wasm/cli.js features failed: ${stderr || err.message}`));
      const npy = fs.readFileSync(out), data = npy.subarray(10 + npy.readUInt16LE(8));   // after the .npy v1 header
      fs.rmSync(path.dirname(out), { recursive: true });
      resolve(checksum(new Float32Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength))));
    });
  });
}

// Waits for the status to be one of `states`; fails at once (with the page's error) on 'error'.
async function waitStatus(states, what) {
  try {
    await page.waitForFunction((s) => [...s, 'error'].includes(document.querySelector('[data-testid=fashion-status]').textContent),
      states, { timeout: SLOW });
  } catch {
    assert.fail(`${what}: timed out with status "${await text('fashion-status')}" (${await text('features-text')}); ${await whereWaiting()}`);
  }
  const s = await text('fashion-status');
  if (!states.includes(s)) assert.fail(`${what}: status "${s}", error shown: ${await text('fashion-error')}`);
}

// Where a stuck page waits: its last steps and its open worker requests, as one line.
async function whereWaiting() {
  const w = await hook('whereWaiting').catch((e) => ({ error: e.message }));
  if (w.error) return `(the page did not answer: ${w.error})`;
  const steps = w.steps.slice(-12).map((s) => `${((s.ms - w.now) / 1000).toFixed(1)} s ${s.what}`).join(' | ');
  const open = w.openCalls.map((c) => `${c.worker} ${c.cmd} for ${(c.ms / 1000).toFixed(1)} s`).join(', ') || 'none';
  return `last steps: ${steps || 'none'}; open worker requests: ${open}`;
}

// Waits until at least `n` images are done in the running extraction.
async function waitImages(n) {
  await page.waitForFunction((k) => Number(document.querySelector('[data-testid=features-text]').dataset.done || 0) >= k
    || document.querySelector('[data-testid=fashion-status]').textContent !== 'extracting', n, { timeout: SLOW });
  assert.equal(await text('fashion-status'), 'extracting', `the extraction ended before ${n} images (${await text('fashion-error')})`);
}

async function resultRows() {
  return page.$$eval('[data-testid=results-row]', (els) => els.map((e) => ({ classifier: e.dataset.classifier, accuracy: Number(e.dataset.accuracy) })));
}

describe('the Fashion-MNIST page in Chromium', () => {
  let setupError = null;
  let reference = null;   // features checksum of the undisturbed run
  let classifierFile = null, finetuneFile = null;
  const ready = () => { if (setupError) throw setupError; };

  before(async () => {
    try { await setup(); } catch (e) { setupError = e; }
  });

  async function setup() {
    for (const f of ['fashion.html', 'fashion.js', 'worker-features.js', 'worker-train.js', 'models/densenet121.dlm', 'data/fashion-mnist/train-images-idx3-ubyte.gz']) {
      if (!fs.existsSync(path.join(dist, f))) throw new Error(`dist/${f} is missing: run ./build.sh (it runs node web/build-dist.js)`);
    }
    for (const c of ['linear-svm', 'pixels-linear-svm', 'softmax', 'finetune']) { cli[c] = runCli(c, c === 'softmax' ? { epochs: EPOCHS } : c === 'finetune' ? { epochs: FT_EPOCHS } : {}); cli[c].catch(() => {}); }
    cli.features = cliFeaturesChecksum();
    cli.features.catch(() => {});
    const { startServer } = await import('../web/serve.js');
    server = await startServer({ root: dist, port: 0 });
    origin = new URL(server.url).origin;
    browser = await launchChromium('denselab-fashion-', { acceptDownloads: true });
    ({ context, userDir } = browser);
    context.on('request', (r) => requests.push(r.url()));
    page = context.pages()[0] || await context.newPage();
    await page.goto(new URL('fashion.html', server.url).href);
  }

  after(async () => {
    if (browser) await browser.close();
    if (server) await server.close();
  });

  test('loads the model and the data', async () => {
    ready();
    await waitStatus(['ready'], 'loading');
    assert.match(await page.textContent('#load-label'), /60,000 training and 10,000 test images/);
  });

  test('the fields start at web/defaults.js', async () => {
    ready();
    const field = (id) => page.$eval(`[data-testid=${id}]`, (e) => (e.type === 'checkbox' ? e.checked : e.value));
    const options = (id) => page.$$eval(`[data-testid=${id}] option`, (els) => els.map((e) => e.value));
    for (const [id, key] of [['train-size', 'train'], ['test-size', 'test'], ['image-size', 'size'], ['workers', 'workers']]) {
      assert.equal(await field(id), String(FASHION[key].value), id);
      assert.deepEqual(await options(id), FASHION[key].choices.map(String), `${id} choices`);
    }
    const c = FASHION.classifiers;
    const want = {
      'use-linear-svm': c['linear-svm'].enabled, 'linear-c': String(c['linear-svm'].params.C),
      'use-rbf-svm': c['rbf-svm'].enabled, 'rbf-c': String(c['rbf-svm'].params.C), 'rbf-max': String(c['rbf-svm'].maxPoints),
      'use-softmax': c.softmax.enabled, hidden: String(c.softmax.params.hidden), epochs: String(c.softmax.params.epochs), lr: String(c.softmax.params.lr), val: String(c.softmax.params.val),
      'use-pixels-linear-svm': c['pixels-linear-svm'].enabled, 'pixels-c': String(c['pixels-linear-svm'].params.C),
      'use-finetune': c.finetune.enabled, ...Object.fromEntries(Object.entries(c.finetune.params).map(([k, v]) => [`ft-${k}`, String(v)])),
    };
    for (const [id, v] of Object.entries(want)) assert.equal(await field(id), v, id);
    assert.equal(await page.$$eval('[data-default]:not(input):not(select)', (els) => els.filter((e) => !e.textContent).length), 0, 'an empty default in the text');
  });

  test(`trains and tests on ${N} / ${M} images at S=${SIZE}, far above chance`, async () => {
    ready();
    await page.selectOption('[data-testid=train-size]', String(N));
    await page.selectOption('[data-testid=test-size]', String(M));
    await page.selectOption('[data-testid=image-size]', String(SIZE));
    await page.selectOption('[data-testid=workers]', '2');
    await page.fill('[data-testid=epochs]', String(EPOCHS));
    await page.fill('[data-testid=ft-epochs]', String(FT_EPOCHS));
    await choose('use-linear-svm', 'use-softmax', 'use-finetune', 'use-pixels-linear-svm');
    await page.click('[data-testid=train]');
    await waitStatus(['done'], 'training');
    const rows = await resultRows();
    assert.deepEqual(rows.map((r) => r.classifier), ['linear-svm', 'softmax', 'finetune', 'pixels-linear-svm']);
    for (const r of rows) assert.ok(r.accuracy > 0.6, `${r.classifier}: test accuracy ${r.accuracy} is not far above chance (0.1)`);
    // Fine-tuning's rows stayed in the cache through the extraction and the other classifiers, and
    // went to the classifier worker when fine-tuning started; the trained classifiers' bytes are in
    // the cache too, not on the page, and so are the training images (the test images are drawn).
    const batches = Math.ceil(N / FASHION.batch) + Math.ceil(M / FASHION.batch);
    assert.deepEqual(await hook('blockBatchesPut'), { total: batches, extracting: 0 });
    assert.equal(await hook('modelBytesOnPage'), 0);
    // The linear SVM trained on the features as float16, the new head on float32 ones read back from
    // the cache (the CLI's default: learn/experiment.c's table).
    assert.deepEqual(await hook('featureTypesUsed'), ['linear-svm:f16', 'softmax:f32']);
    // Every read-back from the cache was the classifier worker's own (IndexedDB straight into its heap).
    assert.deepEqual(await hook('readBacks'), ['features', 'features', 'block', 'pixels'].map((w) => `${w}: the classifier worker`));
    assert.deepEqual(await hook('imagesOnPage'), { train: 0, test: 10000 * 784, stored: true });
    reference = await hook('featuresChecksum');
    assert.match(reference ?? '', /^[0-9a-f]{8}$/, 'no features checksum after the run');
    // Read back once, straight into the linear SVM's float16 room, the checksum taken from the float32
    // batches as they passed: the CLI's features, bit for bit.
    assert.deepEqual(await hook('extractions'), [{ type: 'f16', checksum: 'as the batches passed' }]);
    assert.equal(reference, await cli.features, 'the page\'s features checksum is not that of the CLI\'s features');
    assert.equal(await page.isHidden('[data-testid=features-cached]'), true, 'a fresh profile claims cached features');
    assert.equal(await page.locator('[data-testid=confusion-row]').count(), 10, 'no 10x10 confusion matrix');
    assert.ok(await page.locator('[data-testid=misclassified] canvas').count() > 0, 'no misclassified images shown');
    fs.mkdirSync(shotDir, { recursive: true });
    await page.screenshot({ path: path.join(shotDir, 'fashion.png'), fullPage: true });
  });

  test('linear SVM, new head, fine-tuning and pixel baseline accuracies equal the CLI\'s', async () => {
    ready();
    const rows = await resultRows();
    for (const c of ['linear-svm', 'pixels-linear-svm', 'softmax', 'finetune']) {
      const want = await cli[c];
      const got = rows.find((r) => r.classifier === c);
      assert.ok(got, `no ${c} row in the page`);
      assert.equal(got.accuracy.toFixed(4), want.test_accuracy.toFixed(4), `${c}: page ${got.accuracy} vs CLI ${want.test_accuracy}`);
    }
    assert.deepEqual(await hook('pixelFits'), ['parts'], 'the stored training images went to the worker a part at a time');
    // The rooms read back from the cache hold no test rows: the worker read them from the cache to test.
    assert.deepEqual(await hook('testRowsFrom'), ['linear-svm:cache', 'softmax:cache', 'finetune:room', 'pixels-linear-svm:room']);
  });

  test('the lesson under the table names the best row, highlighted, and its margin over the pixel baseline', async () => {
    ready();
    const rows = await resultRows();
    const best = rows.reduce((a, b) => (b.accuracy > a.accuracy ? b : a));
    const pixels = rows.find((r) => r.classifier === 'pixels-linear-svm');
    const highlighted = await page.$$eval('[data-testid=results-row].best', (els) => els.map((e) => e.dataset.classifier));
    assert.deepEqual(highlighted, [best.classifier], 'exactly the best row is highlighted');
    const lesson = await text('lesson');
    assert.equal(await page.getAttribute('[data-testid=lesson]', 'data-best'), best.classifier);
    const label = await page.$eval(`[data-testid=results-row][data-classifier=${best.classifier}] th`, (e) => e.firstChild.textContent);
    assert.ok(lesson.startsWith(`Best: ${label} at ${(best.accuracy * 100).toFixed(2)} %`), lesson);
    if (best !== pixels) assert.ok(lesson.includes(`${Math.abs((best.accuracy - pixels.accuracy) * 100).toFixed(2)} points above the raw-pixel baseline`), lesson);
    const curve = await page.$eval('[data-testid=softmax-curve]', (e) => ({ epochs: Number(e.dataset.epochs), val: Number(e.dataset.valAcc), train: Number(e.dataset.trainAcc) }));
    assert.equal(curve.epochs, EPOCHS, 'the new head\'s curve has every epoch');
    assert.ok(curve.val > 0.5 && curve.val <= 1, `validation accuracy ${curve.val} next to training accuracy ${curve.train}`);
    assert.ok(lesson.includes('fine-tuning conv5 with the head'), lesson);
  });

  test('fine-tuning\'s curve: loss, training and validation accuracy per epoch, the kept epoch marked', async (t) => {
    ready();
    const curve = await page.$eval('[data-testid=finetune-curve]', (e) => ({ ...e.dataset }));
    const row = await page.$eval('[data-testid=results-row][data-classifier=finetune]', (e) => ({ ...e.dataset }));
    assert.equal(await page.isVisible('[data-testid=finetune-curve]'), true);
    assert.equal(Number(curve.epochs), FT_EPOCHS, 'the curve has every epoch');
    assert.equal(row.epochs, String(FT_EPOCHS));
    assert.ok(Number(curve.valAcc) > 0.5 && Number(curve.valAcc) <= 1, `validation accuracy ${curve.valAcc}`);
    assert.ok(Number(curve.bestEpoch) >= 1 && Number(curve.bestEpoch) <= FT_EPOCHS, `best epoch ${curve.bestEpoch}`);
    assert.equal(row.bestEpoch, curve.bestEpoch, 'the row and the curve name different kept epochs');
    assert.match(await page.textContent('[data-testid=results-row][data-classifier=finetune]'), /conv5_block1 \(512\) at 32×32/);
    // A figure, not a check: the tab's time per epoch, and the fit + test time next to the CLI's
    // (the same WASM in Node, run at the same time on this machine).
    const fit = Number(row.trainSeconds), cliFit = (await cli.finetune).train_seconds;
    t.diagnostic(`fine-tuning in the tab: ${curve.secondsPerEpoch} s per epoch (${Math.floor(N * (1 - FASHION.classifiers.finetune.params.val))} training rows, S=${SIZE}); `
      + `fit + test ${fit.toFixed(1)} s, CLI ${cliFit.toFixed(1)} s: ratio ${(fit / cliFit).toFixed(2)}`);
  });

  test('the lesson compares fine-tuning with the best frozen-feature classifier', async () => {
    const { lessonSentence } = await import('../web/fashion-render.js');
    const names = { 'linear-svm': 'Linear SVM', softmax: 'New head', finetune: 'Fine-tuned', 'pixels-linear-svm': 'Pixels' };
    const rows = [{ classifier: 'linear-svm', accuracy: 0.8822 }, { classifier: 'softmax', accuracy: 0.8787 },
      { classifier: 'pixels-linear-svm', accuracy: 0.8342 }, { classifier: 'finetune', accuracy: 0.9001 }];
    const { best, text: sentence } = lessonSentence(rows, names);
    assert.equal(best, rows[3]);
    assert.equal(sentence, 'Best: Fine-tuned at 90.01 % test accuracy, 6.59 points above the raw-pixel baseline (83.42 %); '
      + 'fine-tuning conv5 with the head gained 1.79 points over the best classifier on frozen features (Linear SVM, 88.22 %).');
    const behind = lessonSentence([...rows.slice(0, 3), { classifier: 'finetune', accuracy: 0.8701 }, { classifier: 'finetune', accuracy: 0.8772 }], names).text;
    assert.match(behind, /^Best: Linear SVM at 88\.22 %.*; fine-tuning conv5 with the head lost 0\.50 points against the best classifier on frozen features \(Linear SVM, 88\.22 %\)\.$/, behind);
    assert.equal(lessonSentence([], names), null);
    assert.match(lessonSentence([{ classifier: 'linear-svm', accuracy: 0.8 }, { classifier: 'pixels-linear-svm', accuracy: 0.81 }], names).text, /did not beat the raw pixels/);
  });

  test('the pixel baseline made room for itself; the next run reads the features back from the cache, identical', async () => {
    ready();
    assert.equal(await hook('featuresInWorker'), false, 'the features stayed next to the pixel baseline\'s floats');
    const before = (await resultRows()).find((r) => r.classifier === 'linear-svm');
    await choose('use-linear-svm');
    await page.click('[data-testid=train]');
    await waitStatus(['done'], 'training again');
    assert.equal(await hook('featuresInWorker'), true);
    assert.equal(await hook('featuresChecksum'), reference, 'the features read back differ');
    assert.equal(await page.getAttribute('[data-testid=features-cached]', 'data-cached'), String(N + M), 'not all from the cache');
    const again = (await resultRows()).filter((r) => r.classifier === 'linear-svm');
    assert.equal(again.length, 2);
    assert.equal(again[1].accuracy, before.accuracy);
  });

  test('a cache entry gone mid-way through a read-back: a clear error, no row lost, and the next run computes it again, identical', async () => {
    ready();
    assert.equal(await hook('featuresInWorker'), true);
    const rows = await resultRows(), linear = rows.filter((r) => r.classifier === 'linear-svm').at(-1);
    assert.ok(await hook('dropCacheEntry', { keyEnd: ':train:256-512' }), 'no cached batch train:256-512');
    await choose('use-softmax');    // it reads the features again as float32: the second batch is gone
    await page.click('[data-testid=train]');
    await waitStatus(['done'], 'the softmax head with a batch gone');
    assert.match(await text('fashion-error'), /^New head \(softmax\): the cached features of train images 256–511 could not be read back: extract again$/);
    assert.deepEqual(await resultRows(), rows, 'a row was lost or added');
    // The worker answers afterwards: the batch is computed again; the rest are read back through the page
    // (as where the worker has no IndexedDB), the checksum taken as they pass.
    await choose('use-linear-svm');
    await hook('workerReads', false);
    try {
      await page.click('[data-testid=train]');
      await waitStatus(['done'], 'the linear SVM after the batch was gone');
    } finally { await hook('workerReads', true); }
    assert.equal(await text('fashion-error'), '');
    assert.equal((await hook('readBacks')).at(-1), 'features: the page');
    assert.equal(await hook('featuresChecksum'), reference, 'the features read back differ');
    assert.equal((await resultRows()).at(-1).accuracy, linear.accuracy);
  });

  test('a failed pixel fit leaves the page its images: the next one gives the same accuracy', async () => {
    ready();
    const before = (await resultRows()).find((r) => r.classifier === 'pixels-linear-svm');
    await choose('use-pixels-linear-svm');
    await hook('nextFitParams', { C: -1 });    // refused by the worker, after the images moved there
    await page.click('[data-testid=train]');
    await page.waitForFunction(() => document.querySelector('[data-testid=fashion-error]').textContent, null, { timeout: SLOW });
    assert.match(await text('fashion-error'), /^Linear SVM \(pixel baseline\): .*C must be > 0/);
    await waitStatus(['done'], 'the failing pixel fit');
    assert.deepEqual(await hook('imagesOnPage'), { train: 0, test: 10000 * 784, stored: true }, 'the images were not parsed again');
    await page.click('[data-testid=train]');
    await waitStatus(['done'], 'the pixel fit again');
    const again = (await resultRows()).filter((r) => r.classifier === 'pixels-linear-svm');
    assert.equal(again.at(-1).accuracy, before.accuracy);
  });

  test('a stored part of the training images gone: the files are parsed again, the same accuracy, and the next fit reads the parts stored again', async () => {
    ready();
    const before = (await resultRows()).findLast((r) => r.classifier === 'pixels-linear-svm');
    assert.ok(await hook('dropCacheEntry', { imagePart: 1 }), 'no stored part 1 of the training images');
    await choose('use-pixels-linear-svm');
    await page.click('[data-testid=train]');
    await waitStatus(['done'], 'the pixel fit with a part gone');
    assert.equal(await text('fashion-error'), '');
    assert.deepEqual((await hook('pixelFits')).slice(-1), ['whole']);
    assert.deepEqual(await hook('imagesOnPage'), { train: 0, test: 10000 * 784, stored: true }, 'not stored again after the fit');
    await page.click('[data-testid=train]');
    await waitStatus(['done'], 'the pixel fit from the parts stored again');
    assert.deepEqual((await hook('pixelFits')).slice(-1), ['parts']);
    assert.equal((await hook('readBacks')).at(-1), 'pixels: the classifier worker');
    for (const r of (await resultRows()).slice(-2)) assert.deepEqual(r, before);
  });

  test('test features gone from the cache: a clear error before training, then the next run extracts them again, same accuracy', async () => {
    ready();
    const before = (await resultRows()).find((r) => r.classifier === 'linear-svm');
    await choose('use-linear-svm');
    await page.click('[data-testid=train]');     // the features back in the worker, as float16, no test rows
    await waitStatus(['done'], 'training');
    assert.ok(await hook('dropCacheEntry', { keyEnd: `:test:0-${FASHION.batch}` }), 'no cached first test batch');
    await page.click('[data-testid=train]');
    await page.waitForFunction(() => document.querySelector('[data-testid=fashion-error]').textContent, null, { timeout: SLOW });
    assert.match(await text('fashion-error'), new RegExp(`^Linear SVM: the cached features of test images 0–${FASHION.batch - 1} are gone: extract again$`));
    await waitStatus(['done', 'error'], 'the fit without its test rows');
    await page.click('[data-testid=train]');
    await waitStatus(['done'], 'training again');
    assert.equal(await page.getAttribute('[data-testid=features-cached]', 'data-cached'), String(N + M - FASHION.batch), 'only the batch gone was to be computed');
    assert.equal(await hook('featuresChecksum'), reference, 'the features extracted again differ');
    const again = (await resultRows()).filter((r) => r.classifier === 'linear-svm');
    assert.equal(again.at(-1).accuracy, before.accuracy);
    assert.equal((await hook('testRowsFrom')).at(-1), 'linear-svm:cache');
  });

  test('the best trained classifier classifies a photo, its bytes read back from the cache', async () => {
    ready();
    assert.doesNotMatch(await text('active-classifier'), / from /, 'a file, not a trained row, is active');
    await page.setInputFiles('[data-testid=photo-input]', photo);
    await page.waitForFunction(() => document.querySelector('[data-testid=photo-prediction]').textContent
      || document.querySelector('[data-testid=fashion-error]').textContent, null, { timeout: 60_000 });
    assert.equal(await text('fashion-error'), '', 'the photo gave an error');
    assert.ok(CLASSES.includes(await text('photo-prediction')), `not a Fashion-MNIST class: ${await text('photo-prediction')}`);
    await page.evaluate(() => { document.querySelector('[data-testid=photo-prediction]').textContent = ''; });
  });

  test('downloads the trained classifier as a DLCLASS1 file', async () => {
    ready();
    const [download] = await Promise.all([
      page.waitForEvent('download', { timeout: 30_000 }),
      page.click('[data-testid=results-row][data-classifier=linear-svm] [data-testid=download]'),
    ]);
    assert.equal(download.suggestedFilename(), `fashion-linear-svm-s${SIZE}.dlclass`);
    classifierFile = path.join(userDir, download.suggestedFilename());
    await download.saveAs(classifierFile);
    assert.equal(fs.readFileSync(classifierFile).subarray(0, 8).toString('latin1'), 'DLCLASS1');
    const [tuned] = await Promise.all([
      page.waitForEvent('download', { timeout: 30_000 }),
      page.click('[data-testid=results-row][data-classifier=finetune] [data-testid=download]'),
    ]);
    assert.equal(tuned.suggestedFilename(), `fashion-finetune-s${SIZE}.dlclass`);
    finetuneFile = path.join(userDir, tuned.suggestedFilename());
    await tuned.saveAs(finetuneFile);
  });

  test('a fine-tuning stop ends after the running epoch and keeps the best epoch: the CLI\'s accuracy for those epochs', async () => {
    ready();
    await choose('use-finetune');
    await page.fill('[data-testid=ft-epochs]', '20');
    // Asked when epoch 1 is shown: the worker, already in epoch 2, stops after it.
    await hook('stopAfterEpochs', 1);
    try {
      await page.click('[data-testid=train]');
      await waitStatus(['cancelled'], 'fine-tuning stopped');
    } finally {
      await hook('stopAfterEpochs', 0);
      await page.fill('[data-testid=ft-epochs]', String(FT_EPOCHS));
    }
    const row = await page.$eval('[data-testid=results-row]:last-child', (e) => ({ ...e.dataset }));
    assert.equal(row.classifier, 'finetune', 'the stopped fit has no row');
    const epochs = Number(row.epochs);
    assert.ok(epochs >= 1 && epochs < 20, `${epochs} epochs run`);
    assert.match(await text('train-text'), new RegExp(`Stopped after epoch ${epochs}: the fine-tuned model keeps epoch ${row.bestEpoch}'s weights`));
    const want = epochs === FT_EPOCHS ? await cli.finetune : await runCli('finetune', { epochs });
    assert.equal(Number(row.accuracy).toFixed(4), want.test_accuracy.toFixed(4), `fine-tuning stopped after ${epochs} epochs: page vs CLI`);
  });

  test('the RBF SVM\'s pairs on the classifier worker\'s threads: a stop keeps the finished pairs, a second run resumes to the CLI\'s accuracy and the pair workers\' model bytes', async () => {
    ready();
    const want = runCli('rbf-svm');
    want.catch(() => {});
    await choose('use-rbf-svm');
    await hook('stopAfterPairs', 5);
    await page.click('[data-testid=train]');
    await waitStatus(['cancelled'], 'the RBF SVM stopped after 5 pairs');
    const kept = await hook('rbfPairsKept');
    assert.ok(kept >= 5 && kept < 45, `${kept} pairs kept`);
    assert.match(await text('train-text'), new RegExp(`keeps its ${kept} finished pairs of 45`));
    await hook('stopAfterPairs', 0);
    await page.click('[data-testid=train]');
    await waitStatus(['done'], 'the RBF SVM resumed');
    assert.equal(await page.getAttribute('[data-testid=train-text]', 'data-resumed'), String(kept), 'the second run did not start from the kept pairs');
    const got = (await resultRows()).filter((r) => r.classifier === 'rbf-svm');
    assert.equal(got.length, 1, 'one RBF SVM row');
    assert.equal(got[0].accuracy.toFixed(4), (await want).test_accuracy.toFixed(4), 'RBF SVM: page vs CLI');
    // The page is cross-origin isolated (serve mode): the pairs ran on the classifier worker's
    // pthreads, one per worker of the setting, with no pair worker.
    const cores = await page.evaluate(() => Math.min(navigator.hardwareConcurrency || 1, 8));
    const mode = await page.getAttribute('[data-testid=train-text]', 'data-rbf-mode');
    assert.equal(mode, cores > 1 ? 'threads' : 'workers', 'where the pairs ran');
    if (cores > 1) assert.equal(await page.getAttribute('[data-testid=train-text]', 'data-rbf-threads'), String(cores));

    // On 300 points (cheap), threads in the classifier worker and pair workers (a page that is not
    // cross-origin isolated) give the same model bytes.
    const maxPoints = await page.inputValue('[data-testid=rbf-max]'), sha = {};
    await page.fill('[data-testid=rbf-max]', '300');
    try {
      for (const workers of [false, true]) {
        await hook('rbfPairWorkers', workers);
        await page.click('[data-testid=train]');
        await waitStatus(['done'], `the RBF SVM on 300 points, ${workers ? 'pair workers' : 'threads'}`);
        sha[await page.getAttribute('[data-testid=train-text]', 'data-rbf-mode')] = await hook('rbfModelSha256');
      }
    } finally {
      await hook('rbfPairWorkers', false);
      await page.fill('[data-testid=rbf-max]', maxPoints);
    }
    assert.deepEqual(Object.keys(sha).sort(), cores > 1 ? ['threads', 'workers'] : ['workers']);
    assert.equal(new Set(Object.values(sha)).size, 1, `RBF SVM on 300 points: threads vs pair workers, model bytes ${JSON.stringify(sha)}`);
  });

  test('a killed worker and a cancel + resume give identical features', async () => {
    ready();
    assert.ok(reference, 'needs the undisturbed run above');
    await hook('clearCache');
    await page.click('[data-testid=extract]');
    await waitImages(300);
    let killed = false;          // a worker may be between batches at this instant: try for a while
    for (let i = 0; i < 100 && !killed; i++) killed = await hook('killWorker') || (await page.waitForTimeout(50), false);
    assert.equal(killed, true, 'no busy worker to kill');
    await waitImages(1100);
    await page.click('[data-testid=cancel]');
    await waitStatus(['cancelled'], 'cancel');
    assert.equal(await page.getAttribute('[data-testid=features-text]', 'data-state'), 'cancelled');
    await page.click('[data-testid=resume]');
    await waitStatus(['done'], 'resume');
    assert.equal(await hook('featuresChecksum'), reference, 'features differ from the undisturbed run');
    // "Extract features" alone: the batches (those cached before the cancel, then the new ones, in the
    // rows' order) were only hashed as they passed; no room holds them until a classifier needs them.
    assert.deepEqual((await hook('extractions')).at(-1), { type: 'none', checksum: 'as the batches passed' });
    assert.equal((await hook('readBacks')).at(-1), 'features: the page (hashed)', 'read into one buffer on the page');
    assert.equal(await hook('featuresInWorker'), false);
    const cachedBefore = Number(await page.getAttribute('[data-testid=features-cached]', 'data-cached'));
    // At least 1,100 images were done before the cancel: the first batches (256 each) are long
    // stored by then; the last ones may still be in flight to IndexedDB, so not all are counted.
    assert.ok(cachedBefore >= 512, `resume recomputed what was done before the cancel (only ${cachedBefore} images reused)`);
  });

  test('after a reload the features come from the IndexedDB cache', async () => {
    ready();
    await page.reload();
    await waitStatus(['ready'], 'reload');
    await page.selectOption('[data-testid=test-size]', String(M));
    const since = requests.length;
    await page.click('[data-testid=extract]');
    await waitStatus(['done'], 'extraction from the cache');
    assert.equal(await hook('featuresChecksum'), reference, 'cached features differ');
    // What a timed-out test prints (whereWaiting): this extraction's steps, the last ones in order.
    const { steps, openCalls } = await hook('whereWaiting');
    const ran = steps.map((s) => s.what);
    assert.deepEqual(ran.slice(-3), [`extract: features done (${N + M} cached, 0 computed)`, 'extract: the training images stored', 'extract: done'], `steps: ${JSON.stringify(ran)}`);
    assert.match(ran.at(-4), /^extract: \d+ batches from the cache into the page's checksum$/);
    assert.ok(Array.isArray(openCalls), 'the open worker requests');
    assert.equal(await page.isVisible('[data-testid=features-cached]'), true, 'no "cached" indicator');
    assert.equal(await page.getAttribute('[data-testid=features-cached]', 'data-cached'), String(N + M));
    assert.ok(!requests.slice(since).some((u) => u.endsWith('worker-features.js')), 'a feature worker was started although everything was cached');
  });

  test('the checksum\'s other ways: from a float32 room read back from the cache, and without a cache (batches into the worker as they come)', async () => {
    ready();
    try {
      await hook('streamChecksum', false);    // as if a batch had come out of order
      await page.click('[data-testid=extract]');
      await waitStatus(['done'], 'extraction, the checksum from a float32 room');
      assert.deepEqual((await hook('extractions')).at(-1), { type: 'f32', checksum: 'from the float32 room' });
      assert.equal(await hook('featuresChecksum'), reference, 'the float32 room read back from the cache');
      assert.equal(await hook('featuresInWorker'), true);
    } finally { await hook('streamChecksum', true); }
    try {
      await hook('cacheOff', true);
      await page.click('[data-testid=extract]');
      await waitStatus(['done'], 'extraction without a cache');
      assert.equal((await hook('extractions')).at(-1).type, 'f32');
      assert.equal(await hook('featuresChecksum'), reference, 'the features computed without a cache');
      assert.equal(await page.isHidden('[data-testid=features-cached]'), true);
    } finally { await hook('cacheOff', false); }
  });

  test('a loaded classifier file classifies a photo', async () => {
    ready();
    assert.ok(classifierFile, 'needs the downloaded classifier');
    await page.setInputFiles('[data-testid=classifier-input]', classifierFile);
    await page.waitForFunction(() => document.querySelector('[data-testid=active-classifier]').dataset.kind === 'linear-svm', null, { timeout: 30_000 });
    await page.setInputFiles('[data-testid=photo-input]', photo);
    await page.waitForFunction(() => document.querySelector('[data-testid=photo-prediction]').textContent
      || document.querySelector('[data-testid=fashion-error]').textContent, null, { timeout: 60_000 });
    assert.equal(await text('fashion-error'), '', 'the photo gave an error');
    assert.ok(CLASSES.includes(await text('photo-prediction')), `not a Fashion-MNIST class: ${await text('photo-prediction')}`);
  });

  test('a loaded fine-tuned model classifies a photo (its conv5_block1 input at the file\'s S)', async () => {
    ready();
    assert.ok(finetuneFile, 'needs the downloaded fine-tuned model');
    await page.evaluate(() => { document.querySelector('[data-testid=photo-prediction]').textContent = ''; });
    await page.setInputFiles('[data-testid=classifier-input]', finetuneFile);
    await page.waitForFunction(() => document.querySelector('[data-testid=active-classifier]').dataset.kind === 'finetune', null, { timeout: 30_000 });
    assert.match(await text('active-classifier'), /Fine-tuned \(conv5 \+ head\) from fashion-finetune-s32\.dlclass on DenseNet121 up to conv5_block1 at 32×32/);
    await page.setInputFiles('[data-testid=photo-input]', photo);
    await page.waitForFunction(() => document.querySelector('[data-testid=photo-prediction]').textContent
      || document.querySelector('[data-testid=fashion-error]').textContent, null, { timeout: 60_000 });
    assert.equal(await text('fashion-error'), '', 'the photo gave an error');
    assert.ok(CLASSES.includes(await text('photo-prediction')), `not a Fashion-MNIST class: ${await text('photo-prediction')}`);
  });

  test('an RBF SVM on too many points gets a clear message, and the page keeps working', async () => {
    ready();
    await choose('use-rbf-svm', 'use-pixels-linear-svm');
    await page.fill('[data-testid=rbf-max]', '70000');
    await page.click('[data-testid=train]');
    await waitStatus(['done'], 'training with one bad classifier');
    // Beside its control, not in the toast (which could cover the field being edited).
    assert.match(await text('arg-error-rbf-max'), /RBF SVM: 70,000 training points is more than the 60,000 training images there are/);
    assert.equal(await page.isVisible('[data-testid=arg-error-rbf-max]'), true);
    assert.equal(await page.isVisible('[data-testid=fashion-error]'), false, 'the toast is shown too');
    const rows = await resultRows();
    assert.deepEqual(rows.map((r) => r.classifier), ['pixels-linear-svm'], 'the other classifier did not run');
    await page.setViewportSize({ width: 390, height: 844 });
    // At phone width every row shows its accuracy, inside the screen (no sideways scrolling).
    const cells = await page.$$eval('[data-testid=results-row] > :nth-child(5)', (els) => els.map((e) => {
      const r = e.getBoundingClientRect();
      return { left: r.left, right: r.right, width: r.width, text: e.textContent };
    }));
    assert.ok(cells.length > 0, 'no result row');
    for (const c of cells) assert.ok(c.width > 0 && c.left >= 0 && c.right <= 390, `accuracy "${c.text}" at ${c.left}..${c.right} px, outside a 390 px screen`);
    await page.screenshot({ path: path.join(shotDir, 'fashion-phone.png'), fullPage: true });
  });

  test('works offline after a visit (service worker)', async () => {
    ready();
    await page.setViewportSize({ width: 1280, height: 900 });
    await context.setOffline(true);
    try {
      await page.reload();
      await waitStatus(['ready'], 'offline reload');
    } finally {
      await context.setOffline(false);
    }
  });

  test('no request left the origin', () => {
    ready();
    assert.ok(requests.length > 0, 'no requests recorded');
    const outside = requests.filter((u) => new URL(u).origin !== origin);
    assert.deepEqual(outside, [], `requests outside ${origin}`);
  });
});
