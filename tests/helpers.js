// helpers.js — shared by the test files: project paths, running the two CLIs and
// the C test programs, the Fashion-MNIST folder, reading .npy, headless Chromium.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const shared = path.join(root, '..', 'shared');
export const images = fs.existsSync(path.join(shared, 'images'))
  ? fs.readdirSync(path.join(shared, 'images')).sort().map((f) => path.join(shared, 'images', f)) : [];
export const nativeCli = path.join(root, 'build/native/denselab');
export const model = path.join(root, 'build/models/densenet121.dlm');

// Fail (not skip) when a build output is missing.
export function requireBuilt(...files) {
  for (const f of files) if (!fs.existsSync(f)) throw new Error(`${path.relative(root, f)} is missing: run ./build.sh first`);
}

// The file, failing (not skipping) when that build output is missing.
export function built(file) { requireBuilt(file); return file; }

// Runs a program that must succeed; its stdout. hint: added when it cannot start.
export function runChecked(cmd, args, what, hint = '') {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.error) throw new Error(`${what}: cannot run ${cmd}: ${r.error.message}${r.error.code === 'ENOENT' ? hint : ''}`);
  if (r.status !== 0) throw new Error(`${what} failed (status ${r.status}, signal ${r.signal}):\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

// Fashion-MNIST's gzipped IDX files: Debian's dataset-fashion-mnist, or build.sh's download.
export function fashionDir() {
  for (const d of ['/usr/share/datasets/fashion-mnist', path.join(root, 'build', 'downloads', 'fashion-mnist')])
    if (fs.existsSync(path.join(d, 'train-images-idx3-ubyte.gz'))) return d;
  throw new Error('Fashion-MNIST not found (Debian dataset-fashion-mnist, or run ./build.sh to download it)');
}

export function tmpDir(prefix = 'denselab-') { return fs.mkdtempSync(path.join(os.tmpdir(), prefix)); }

// The same subcommand on both CLIs: { native: {status, stdout, stderr}, wasm: {...} }.
export const CLIS = {
  native: (args) => [nativeCli, args],
  wasm: (args) => [process.execPath, [path.join(root, 'wasm/cli.js'), ...args]],
};

export function run(cli, args, opts = {}) {
  const [cmd, argv] = CLIS[cli](args);
  const r = spawnSync(cmd, argv, { cwd: root, encoding: 'utf8', maxBuffer: 1 << 28, ...opts });
  if (r.error) throw r.error;
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

// numpy .npy (v1, little-endian '<f4' or '<i4') -> { shape, data }.
export function readNpy(file) {
  const b = fs.readFileSync(file);
  if (b.readUInt32BE(0) !== 0x934e554d || b[4] !== 0x50 || b[5] !== 0x59) throw new Error(`${file}: not a .npy file`);
  const len = b.readUInt16LE(8), header = b.toString('latin1', 10, 10 + len);
  const descr = /'descr': '([^']+)'/.exec(header)[1];
  const shape = /'shape': \(([^)]*)\)/.exec(header)[1].split(',').map((s) => s.trim()).filter(Boolean).map(Number);
  const body = b.subarray(10 + len);
  const copy = new Uint8Array(body).buffer;
  const data = descr === '<f4' ? new Float32Array(copy) : descr === '<i4' ? new Int32Array(copy) : null;
  if (!data) throw new Error(`${file}: unsupported dtype ${descr}`);
  return { shape, data };
}

export function maxAbsDiff(a, b) {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

// Debian's Chromium, headless, on a fresh profile (never a downloaded browser):
// -> { context, userDir, close() }. options go to launchPersistentContext; options.args are
// added to the flags below (the fake camera's, say).
export const CHROMIUM = '/usr/bin/chromium';
// keepDir: the profile lives there and stays after close (e.g. IndexedDB's cache for the next run).
export async function launchChromium(prefix = 'denselab-chromium-', { args = [], keepDir = null, ...options } = {}) {
  if (!fs.existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} not found: apt-get install chromium`);
  let chromium;
  try { ({ chromium } = await import('playwright-core')); } catch { throw new Error('playwright-core is not installed: run npm ci'); }
  if (keepDir) fs.mkdirSync(keepDir, { recursive: true });
  const userDir = keepDir ? path.resolve(keepDir) : fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  const context = await chromium.launchPersistentContext(userDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync', ...args],
    viewport: { width: 1280, height: 900 },
    ...options,
  });
  return { context, userDir, async close() { await context.close(); if (!keepDir) fs.rmSync(userDir, { recursive: true, force: true }); } };
}
