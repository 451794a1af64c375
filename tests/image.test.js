// Runs the image/predictions C tests natively and as WebAssembly (build/asan:
// tests/sanitizers.test.js), and checks the stb_image.h patch step.
import test from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { root, shared, run as runCli } from './helpers.js';

const args = [
  path.join(shared, 'images'),
  path.join(shared, 'labels', 'imagenet_class_index.json'),
  path.join(root, 'tests', 'fixtures', 'images'),
];

function run(file, command, commandArgs) {
  assert.ok(existsSync(file), `${path.relative(root, file)} is missing: run ./build.sh first`);
  for (const a of args.slice(0, 2)) assert.ok(existsSync(a), `${a} is missing (the shared data folder ../shared)`);
  const r = spawnSync(command, commandArgs, { encoding: 'utf8', timeout: 120_000 });
  assert.equal(r.error, undefined, `${command} could not run: ${r.error}`);
  const out = r.stdout + r.stderr;
  assert.equal(r.status, 0, `image_test failed (exit ${r.status}):\n${out}`);
  assert.match(out, /image_test: \d+ passed, 0 failed/);
}

test('image decode/preprocess/predictions: native', () => {
  const exe = path.join(root, 'build', 'native', 'models', 'image_test');
  run(exe, exe, args);
});

test('image decode/preprocess/predictions: wasm', () => {
  const js = path.join(root, 'build', 'wasm', 'models', 'image_test.js');
  run(js, process.execPath, [js, ...args]);
});

// Every pixel of a JPEG, not only those a 224x224 resize samples: the WASM build decodes with
// stb's SSE2 kernels on WebAssembly SIMD (models/image.c), natively with SSE2 — the same bits.
test('JPEG at full size: the WASM decode equals the native one, pixel for pixel', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'denselab-jpeg-'));
  try {
    for (const [name, size] of [['face.jpg', '355,512'], ['hot_dog.jpg', '384,512']]) {
      const out = (cli) => {
        const file = path.join(dir, `${cli}-${name}.npy`);
        const r = runCli(cli, ['preprocess', path.join(shared, 'images', name), '--size', size, '--out', file]);
        assert.equal(r.status, 0, r.stderr);
        return readFileSync(file);
      };
      assert.ok(out('native').equals(out('wasm')), `${name}: the WASM decode differs from the native one`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// models/stb_image.cmake: Debian's 2.27 header gets 2.28's JPEG bounds check,
// a header that has it is not patched for it, any other stops the configure step; both get
// the JPEG row test (rows no resize reads are not converted) where stb's loop is as expected.
test('stb_image.h: patched, accepted as is, or a configure error', () => {
  const system = '/usr/include/stb/stb_image.h';
  assert.ok(existsSync(system), 'stb_image.h missing: install libstb-dev (./build.sh does)');
  const original = readFileSync(system, 'utf8');
  const assertLine = '   STBI_ASSERT((((j->code_buffer) >> (32 - h->size[c])) & stbi__bmask[h->size[c]]) == h->code[c]);';
  assert.ok(original.includes(assertLine), 'the system header is not the 2.27 this test expects');
  const tmp = mkdtempSync(path.join(tmpdir(), 'denselab-stb-'));
  const variants = {
    debian: original,
    upstream228: original.replace(assertLine, '   if(c < 0 || c >= 256) // symbol id out of bounds!\n       return -1;\n' + assertLine),
    unknown: original.replace(assertLine, assertLine.replace('>> (32', '>>  (32')),
  };
  const results = {};
  for (const [name, text] of Object.entries(variants)) {
    mkdirSync(path.join(tmp, name, 'stb'), { recursive: true });
    writeFileSync(path.join(tmp, name, 'stb', 'stb_image.h'), text);
    const out = path.join(tmp, name, 'out.h');
    const r = spawnSync('cmake', [`-DSTB_INCLUDE_DIR=${path.join(tmp, name)}`, `-DSTB_OUTPUT=${out}`, '-P',
      path.join(root, 'models', 'stb_image.cmake')], { encoding: 'utf8' });
    results[name] = { status: r.status, log: r.stdout + r.stderr, text: existsSync(out) ? readFileSync(out, 'utf8') : null };
  }
  rmSync(tmp, { recursive: true, force: true });
  assert.equal(results.debian.status, 0, results.debian.log);
  assert.ok(results.debian.text.includes('if (c < 0 || c >= 256) return -1;') && !results.debian.text.includes(assertLine));
  assert.equal(results.upstream228.status, 0, results.upstream228.log);
  // no bounds patch; only the JPEG row test (both headers get it: STBI_JPEG_ROW_NEEDED)
  const rowTest = (t) => t.replace(/#ifndef STBI_JPEG_ROW_NEEDED\n#define STBI_JPEG_ROW_NEEDED\(j\) 1\n#endif\n/, '')
    .replace('if (STBI_JPEG_ROW_NEEDED(j)) coutput[k]', 'coutput[k]').replace(/ *if \(!STBI_JPEG_ROW_NEEDED\(j\)\) continue;[^\n]*\n/, '');
  for (const r of [results.debian, results.upstream228]) assert.equal((r.text.match(/STBI_JPEG_ROW_NEEDED/g) ?? []).length, 4);
  assert.equal(rowTest(results.upstream228.text), variants.upstream228);
  // a header whose JPEG row loop reads otherwise: copied without the row test, and said so
  const otherLoop = variants.upstream228.replace('            coutput[k] = r->resample(', '            coutput[k] = (r->resample)(');
  const dir = mkdtempSync(path.join(tmpdir(), 'denselab-stb-'));
  try {
    mkdirSync(path.join(dir, 'stb'));
    writeFileSync(path.join(dir, 'stb', 'stb_image.h'), otherLoop);
    const r = spawnSync('cmake', [`-DSTB_INCLUDE_DIR=${dir}`, `-DSTB_OUTPUT=${path.join(dir, 'out.h')}`, '-P',
      path.join(root, 'models', 'stb_image.cmake')], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout + r.stderr, /row loop not as expected: every JPEG row is converted/);
    assert.equal(readFileSync(path.join(dir, 'out.h'), 'utf8'), otherLoop);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  assert.notEqual(results.unknown.status, 0);
  assert.match(results.unknown.log.replace(/\s+/g, ' '), /has neither stb 2\.28's JPEG Huffman bounds check/);
  assert.equal(results.unknown.text, null);
});
