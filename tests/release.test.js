// The release artefacts, used as their users would (what `./build.sh release` writes; the
// test runs the same two steps into a temporary folder):
// - the npm package, installed offline into an empty folder outside the repository, runs the
//   README's example and `npx denselab classify`, with the repository CLI's output;
// - the site zip, unpacked into an empty folder and served by `python3 -m http.server` under
//   a sub-path, classifies a photo in Chromium, works offline after one visit, and asks
//   nothing of another origin.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { spawn, spawnSync } from 'node:child_process';
import { root, shared, tmpDir, requireBuilt, launchChromium, run } from './helpers.js';

const { version } = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
const photo = path.join(shared, 'images', 'cat_285.png');
const SLOW = 240_000;

function sh(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 1 << 26, ...opts });
  if (r.error) throw r.error;
  assert.equal(r.status, 0, `${cmd} ${args.join(' ')} failed:\n${r.stderr}${r.stdout}`);
  return r.stdout;
}

const sha256 = (file) => crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');

describe('release artefacts', () => {
  const out = tmpDir('denselab-release-');
  after(() => fs.rmSync(out, { recursive: true, force: true }));

  before(() => {
    requireBuilt(path.join(root, 'dist/index.html'), path.join(root, 'build/wasm/wasm/denselab_core.wasm'), path.join(root, 'build/models/densenet121.dlm'));
    sh(process.execPath, [path.join(root, 'wasm/package.js'), '--out', out]);
    sh(process.execPath, [path.join(root, 'web/build-release.js'), '--out', out]);
  });

  test('both artefacts carry package.json\'s version in their names', () => {
    assert.ok(fs.existsSync(path.join(out, `denselab-${version}.tgz`)), `denselab-${version}.tgz missing: ${fs.readdirSync(out)}`);
    assert.ok(fs.existsSync(path.join(out, `denselab-site-${version}.zip`)), `denselab-site-${version}.zip missing`);
  });

  test('both CLIs print the one version', () => {
    for (const cli of ['native', 'wasm']) {
      const r = run(cli, ['--version']);
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stdout, `denselab ${version}\n`, cli);
    }
  });

  describe('the npm package, installed offline outside the repository', () => {
    const user = tmpDir('denselab-npm-user-');
    after(() => fs.rmSync(user, { recursive: true, force: true }));
    const env = { ...process.env, npm_config_cache: path.join(user, '.npm-cache'), npm_config_update_notifier: 'false' };
    let want;

    before(() => {
      fs.writeFileSync(path.join(user, 'package.json'), JSON.stringify({ name: 'try-denselab', private: true, type: 'module' }));
      sh('npm', ['install', path.join(out, `denselab-${version}.tgz`), '--offline', '--no-audit', '--no-fund'], { cwd: user, env });
      want = run('wasm', ['classify', photo, '--top', '3']).stdout;
    });

    test('holds what a user needs and nothing of the build tree', () => {
      const dir = path.join(user, 'node_modules/denselab');
      for (const f of ['denselab.js', 'denselab.d.ts', 'node.js', 'node.d.ts', 'cli.js', 'core/denselab_core.mjs', 'core/denselab_core.wasm', 'core/denselab_core_mt.wasm', 'core/denselab_core_mt.worker.js',
        'models/densenet121.dlm', 'models/imagenet_class_index.json', 'README.md', 'CHANGELOG.md']) {
        assert.ok(fs.existsSync(path.join(dir, f)), `package lacks ${f}`);
      }
      assert.equal(sha256(path.join(dir, 'models/densenet121.dlm')), sha256(path.join(root, 'build/models/densenet121.dlm')));
      const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8'));
      assert.equal(pkg.version, version);
      assert.deepEqual(pkg.dependencies ?? {}, {}, 'the package must install offline: no dependencies');
      assert.ok(!fs.existsSync(path.join(dir, 'build')), 'the package must not need the build tree');
    });

    test("the README's example prints Keras's decode_predictions", () => {
      const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8');
      const m = /```js\n(\s*\/\/ use\.mjs[\s\S]*?)```/.exec(readme);
      assert.ok(m, 'README.md has no ```js block starting with "// use.mjs"');
      const code = m[1].replace(/^ {2}/gm, '');
      fs.writeFileSync(path.join(user, 'use.mjs'), code);
      const got = sh(process.execPath, ['use.mjs', photo], { cwd: user, env });
      assert.equal(got, want);
      assert.match(got, /^\[\('n02123045', 'tabby', 0\.65\d+\)/, 'cat_285.png is a tabby (Keras: 0.653)');
    });

    test('npx denselab classify and --version', () => {
      assert.equal(sh('npx', ['--no', '--', 'denselab', 'classify', photo, '--top', '3'], { cwd: user, env }), want);
      assert.equal(sh('npx', ['--no', '--', 'denselab', '--version'], { cwd: user, env }), `denselab ${version}\n`);
      const r = spawnSync('npx', ['--no', '--', 'denselab', 'bench'], { cwd: user, env, encoding: 'utf8' });
      assert.equal(r.status, 1);
      assert.match(r.stderr, /^denselab: bench needs the repository/);
    });
  });

  test('the TypeScript declarations name every public method of the API', async () => {
    const { openDenseLab } = await import('../wasm/node.js');
    const lab = await openDenseLab();
    const dts = fs.readFileSync(path.join(root, 'wasm/denselab.d.ts'), 'utf8');
    // The heap helpers the classes share are not API.
    const internal = new Set(['constructor', 'error', 'alloc', 'copyIn', 'string', 'withBytes', 'withString', 'withHeap', 'owned']);
    const file = lab.loadModelFile(fs.readFileSync(path.join(root, 'build/models/densenet121.dlm')));
    const net = lab.buildNet(file, { includeTop: false, pooling: 'avg', inputShape: [32, 32, 3] });
    const c = lab.fit('linear-svm', new Float32Array([0, 1, 1, 0]), [0, 1], 2, 2);
    for (const [cls, obj] of [['DenseLab', lab], ['ModelFile', file], ['Net', net], ['Classifier', c]]) {
      const body = new RegExp(`export class ${cls} \\{([\\s\\S]*?)\\n\\}`).exec(dts);
      assert.ok(body, `denselab.d.ts lacks class ${cls}`);
      for (const name of Object.getOwnPropertyNames(Object.getPrototypeOf(obj))) {
        if (internal.has(name) || typeof obj[name] !== 'function') continue;
        assert.match(body[1], new RegExp(`\\n  ${name}[<(]`), `denselab.d.ts: ${cls}.${name}() is not declared`);
      }
    }
    c.free(); net.free(); file.free();
  });

  describe('the site zip, served under a sub-path by python3 -m http.server', () => {
    const www = tmpDir('denselab-site-user-');
    const sub = 'courses/lab';
    let server, origin, browser, page, base;
    const requests = [];
    after(async () => {
      if (browser) await browser.close();
      if (server) server.kill();
      fs.rmSync(www, { recursive: true, force: true });
    });

    before(async () => {
      fs.mkdirSync(path.join(www, sub), { recursive: true });
      sh('unzip', ['-q', path.join(out, `denselab-site-${version}.zip`), '-d', path.join(www, sub)]);
      server = spawn('python3', ['-u', '-m', 'http.server', '0', '--bind', '127.0.0.1', '--directory', www], { stdio: ['ignore', 'pipe', 'pipe'] });
      const port = await new Promise((resolve, reject) => {
        let text = '';
        server.stdout.on('data', (d) => { text += d; const m = /port (\d+)/.exec(text); if (m) resolve(Number(m[1])); });
        server.on('exit', (code) => reject(new Error(`python3 -m http.server exited (${code})`)));
        setTimeout(() => reject(new Error(`python3 -m http.server printed no port: ${text}`)), 20000);
      });
      origin = `http://127.0.0.1:${port}`;
      base = `${origin}/${sub}/denselab-site-${version}/`;
      browser = await launchChromium('denselab-release-');
      browser.context.on('request', (r) => requests.push(r.url()));
      page = browser.context.pages()[0] || await browser.context.newPage();
    });

    test('README.txt says how to serve it, and SHA256SUMS matches every file', () => {
      const dir = path.join(www, sub, `denselab-site-${version}`);
      const readme = fs.readFileSync(path.join(dir, 'README.txt'), 'utf8');
      assert.match(readme, /python3 -m http\.server/);
      assert.match(readme, new RegExp(sha256(path.join(root, 'build/models/densenet121.dlm'))), 'README.txt names the built model');
      const sums = fs.readFileSync(path.join(dir, 'SHA256SUMS'), 'utf8').trim().split('\n');
      assert.ok(sums.length > 10, `${sums.length} lines in SHA256SUMS`);
      for (const line of sums) {
        const [sum, file] = line.split('  ');
        assert.equal(sha256(path.join(dir, file)), sum, file);
      }
      assert.ok(sums.some((l) => l.endsWith('  index.html')) && sums.some((l) => l.endsWith('  models/densenet121.dlm')));
    });

    async function classify() {
      await page.waitForFunction(() => ['ready', 'error'].includes(document.querySelector('[data-testid=status]')?.textContent), null, { timeout: SLOW });
      assert.equal(await page.textContent('[data-testid=status]'), 'ready', await page.textContent('[data-testid=error]').catch(() => ''));
      await page.setInputFiles('[data-testid=image-input]', photo);
      await page.waitForFunction(() => document.querySelector('[data-testid=status]').textContent === 'done'
        || document.querySelector('[data-testid=status]').textContent === 'error', null, { timeout: SLOW });
      return page.$$eval('[data-testid=prediction]', (els) => els.map((e) => `${e.dataset.wnid} ${e.dataset.prob}`));
    }

    test('the page classifies, shows the release, and works offline after one visit', { timeout: 3 * SLOW }, async () => {
      await page.goto(`${base}index.html`);
      const first = await classify();
      assert.match(first[0] ?? '', /^n02123045 0\.65/, `top-1: ${first[0]}`);
      const footer = await page.textContent('[data-testid=release]');
      const modelSha = sha256(path.join(root, 'build/models/densenet121.dlm'));
      assert.ok(footer.includes(`DenseLab ${version}`) && footer.includes(modelSha.slice(0, 12)), `footer: ${footer}`);
      await page.waitForFunction(() => !document.getElementById('offline').hidden, null, { timeout: SLOW });
      await browser.context.setOffline(true);
      try {
        await page.reload();
        assert.deepEqual(await classify(), first);
      } finally { await browser.context.setOffline(false); }
    });

    test('no request left the origin', () => {
      assert.ok(requests.length > 0);
      const foreign = requests.filter((u) => {
        const url = new URL(u);
        return (url.protocol === 'blob:' ? new URL(url.pathname).origin : url.origin) !== origin;
      });
      assert.deepEqual(foreign, []);
    });
  });
});
