// server.js — static server for the benchmark page: web/serve.js's MIME types, path
// checks and cross-origin isolation (COOP/COEP), but no Content-Security-Policy:
// TF.js's tf.min.js evaluates strings (blocked by the product's CSP). A benchmark
// helper only, never the product's server. 127.0.0.1 only. { isolate: false }: no
// COOP/COEP, as a static host that cannot set headers (GitHub Pages and the like).
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { MIME, resolveInside } from '../web/serve.js';

export function startBenchServer(root, { isolate = true } = {}) {
  const server = http.createServer((req, res) => {
    const file = resolveInside(root, (req.url || '/').split('?')[0]);
    const send = (status, type, body) => {
      const isolation = isolate ? { 'Cross-Origin-Opener-Policy': 'same-origin',
        'Cross-Origin-Embedder-Policy': 'require-corp', 'Cross-Origin-Resource-Policy': 'same-origin' } : {};
      res.writeHead(status, { 'Content-Type': type, ...isolation, 'Cache-Control': 'no-store' });
      res.end(body);
    };
    if (!file || !fs.existsSync(file) || !fs.statSync(file).isFile()) return send(404, 'text/plain', 'not found\n');
    send(200, MIME[path.extname(file).toLowerCase()] || 'application/octet-stream', fs.readFileSync(file));
  });
  return new Promise((resolve, reject) => {
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => resolve({
      url: `http://127.0.0.1:${server.address().port}/`,
      close: () => new Promise((done) => { server.closeAllConnections?.(); server.close(() => done()); }),
    }));
  });
}
