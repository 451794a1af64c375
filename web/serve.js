// Static file server for dist/: 127.0.0.1 only, exact MIME types, cross-origin
// isolation (COOP/COEP) and a strict Content-Security-Policy on every response.
//   node web/serve.js dist [--port N]        (default port 8080; 0 = any free port)
// Also imported by tests: startServer({ root, port: 0 }) -> { url, port, close }.
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const MIME = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.wasm': 'application/wasm',
  '.gz': 'application/gzip',
  '.dlm': 'application/octet-stream',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.bmp': 'image/bmp',
  '.svg': 'image/svg+xml',
  '.ico': 'image/x-icon',
  '.webmanifest': 'application/manifest+json',
  '.txt': 'text/plain; charset=utf-8',
  '.md': 'text/plain; charset=utf-8',
};

// Everything the page needs comes from its own origin; WebAssembly compilation
// needs 'wasm-unsafe-eval' but JS eval stays forbidden.
export const CSP = [
  "default-src 'self'",
  "script-src 'self' 'wasm-unsafe-eval'",
  "worker-src 'self'",
  "img-src 'self' blob: data:",
  "style-src 'self'",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'self'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const SECURITY_HEADERS = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Cross-Origin-Resource-Policy': 'same-origin',
  'Content-Security-Policy': CSP,
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
};

// Maps a URL path to a file strictly inside root, or null. Rejects encoded
// traversal ("..", "%2e%2e", backslashes, NUL) instead of normalising it away.
export function resolveInside(root, urlPath) {
  let p;
  try { p = decodeURIComponent(urlPath); } catch { return null; }
  if (p.includes('\0') || p.includes('\\')) return null;
  const parts = p.split('/');
  if (parts.some((s) => s === '..' || s === '.')) return null;
  if (p.endsWith('/')) p += 'index.html';
  const file = path.resolve(root, '.' + path.posix.normalize('/' + p));
  if (file !== root && !file.startsWith(root + path.sep)) return null;
  return file;
}

// The redirect target for a folder: always a path on this host. Empty segments are dropped,
// as the file lookup ignores them, so "//models" goes to "/models/", never to the
// scheme-relative "//models/" that a browser reads as the host "models".
export function folderLocation(urlPath) {
  const segments = urlPath.split('/').filter(Boolean);
  return segments.length ? `/${segments.join('/')}/` : '/';
}

function send(res, status, text, extra = {}) {
  const body = Buffer.from(text + '\n');
  res.writeHead(status, { ...SECURITY_HEADERS, 'Content-Type': 'text/plain; charset=utf-8',
    'Content-Length': body.length, 'Cache-Control': 'no-store', ...extra });
  res.end(body);
}

function handler(root, onRequest) {
  return (req, res) => {
    if (onRequest) onRequest(req);
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      return send(res, 405, 'method not allowed', { Allow: 'GET, HEAD' });
    }
    const urlPath = (req.url || '/').split('?')[0].split('#')[0];
    const file = urlPath.startsWith('/') ? resolveInside(root, urlPath) : null;   // origin-form only
    if (!file) return send(res, 400, 'bad path');
    fs.stat(file, (err, st) => {
      if (!err && st.isDirectory()) {
        // A folder without a trailing slash: redirect so relative URLs resolve.
        return send(res, 301, 'moved', { Location: folderLocation(urlPath) });
      }
      if (err || !st.isFile()) return send(res, 404, 'not found');
      // Refuse symlinks that point out of root.
      fs.realpath(file, (err2, real) => {
        if (err2 || (real !== root && !real.startsWith(root + path.sep))) return send(res, 404, 'not found');
        const etag = `"${st.size.toString(16)}-${Math.floor(st.mtimeMs).toString(16)}"`;
        const headers = {
          ...SECURITY_HEADERS,
          'Content-Type': MIME[path.extname(file).toLowerCase()] || 'application/octet-stream',
          'Content-Length': st.size,
          'Last-Modified': st.mtime.toUTCString(),
          ETag: etag,
          // Always revalidate: the service worker, not the HTTP cache, keeps the offline copy.
          'Cache-Control': 'no-cache',
        };
        if (req.headers['if-none-match'] === etag) {
          delete headers['Content-Length'];
          res.writeHead(304, headers);
          return res.end();
        }
        res.writeHead(200, headers);
        if (req.method === 'HEAD') return res.end();
        fs.createReadStream(file).on('error', () => res.destroy()).pipe(res);
      });
    });
  };
}

// Starts the server; resolves to { url, port, close() } or rejects with a clear Error.
export function startServer({ root, port = 8080, host = '127.0.0.1', onRequest } = {}) {
  return new Promise((resolve, reject) => {
    if (!root) return reject(new Error('startServer: root folder is required'));
    let absRoot;
    try {
      absRoot = fs.realpathSync(path.resolve(root));
      if (!fs.statSync(absRoot).isDirectory()) throw new Error();
    } catch {
      return reject(new Error(`serve: folder not found: ${root} (run ./build.sh to assemble dist/)`));
    }
    if (!fs.existsSync(path.join(absRoot, 'index.html'))) {
      return reject(new Error(`serve: ${root} has no index.html (run ./build.sh to assemble dist/)`));
    }
    const server = http.createServer(handler(absRoot, onRequest));
    server.on('error', (e) => {
      if (e.code === 'EADDRINUSE') {
        reject(new Error(`serve: port ${port} is already in use on ${host}; choose another with --port N (0 = any free port)`));
      } else if (e.code === 'EACCES') {
        reject(new Error(`serve: not allowed to listen on port ${port}; choose a port above 1023 with --port N`));
      } else {
        reject(new Error(`serve: cannot listen on ${host}:${port}: ${e.message}`));
      }
    });
    server.listen(port, host, () => {
      const actual = server.address().port;
      const sockets = new Set();
      server.on('connection', (s) => { sockets.add(s); s.on('close', () => sockets.delete(s)); });
      resolve({
        url: `http://${host}:${actual}/`,
        port: actual,
        close: () => new Promise((done) => {
          for (const s of sockets) s.destroy();
          server.close(() => done());
        }),
      });
    });
  });
}

function parseArgs(argv) {
  const usage = 'usage: node web/serve.js DIST_FOLDER [--port N]';
  let root = null;
  let port = 8080;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--port' || a.startsWith('--port=')) {
      const v = a.includes('=') ? a.slice(7) : argv[++i];
      if (!/^\d+$/.test(v || '') || Number(v) > 65535) throw new Error(`serve: --port needs a number 0-65535, got ${v ?? 'nothing'}\n${usage}`);
      port = Number(v);
    } else if (a === '-h' || a === '--help') {
      console.log(usage);
      process.exit(0);
    } else if (!a.startsWith('-') && root === null) {
      root = a;
    } else {
      throw new Error(`serve: unexpected argument ${a}\n${usage}`);
    }
  }
  if (root === null) throw new Error(`serve: missing DIST_FOLDER\n${usage}`);
  return { root, port };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    const { root, port } = parseArgs(process.argv.slice(2));
    const { url } = await startServer({ root, port });
    console.log(`DenseLab serving ${root} at ${url}  (Ctrl+C to stop)`);
  } catch (e) {
    console.error(e.message);
    process.exit(1);
  }
}
