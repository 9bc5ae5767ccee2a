#!/usr/bin/env node
// The static file server Pomegrenade ships for static sites: copied into the artifact and run as the
// site's web process (`node serve.mjs --port <port> --root <dir>`). Plain Node, no dependencies.
// Serves files under --root only (no `..`, no symlink leaving the root), with content types, ETag
// (304 on If-None-Match), gzip/br compression of text types, and a 404 page (404.html when present).
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import zlib from 'node:zlib';

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.htm': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.xml': 'application/xml; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.avif': 'image/avif',
  '.ico': 'image/x-icon',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.ttf': 'font/ttf',
  '.wasm': 'application/wasm',
  '.pdf': 'application/pdf',
  '.webmanifest': 'application/manifest+json',
};
const COMPRESSIBLE = /^(text\/|application\/(json|javascript|xml|manifest\+json)|image\/svg\+xml)/;

// Reads `--name value` from argv.
function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1] : fallback;
}

const root = fs.realpathSync(path.resolve(arg('root', '.')));
const port = Number(arg('port', '8080'));

// Maps a URL path to a regular file under root, or null (traversal, symlink out, missing).
function resolveFile(urlPath) {
  let decoded;
  try {
    decoded = decodeURIComponent(urlPath);
  } catch {
    return null;
  }
  if (decoded.includes('\0') || decoded.split('/').includes('..')) return null;
  let file = path.join(root, decoded);
  try {
    let real = fs.realpathSync(file);
    if (real !== root && !real.startsWith(root + path.sep)) return null;
    if (fs.statSync(real).isDirectory()) {
      file = path.join(real, 'index.html');
      real = fs.realpathSync(file);
      if (!real.startsWith(root + path.sep)) return null;
    }
    const st = fs.statSync(real);
    return st.isFile() ? { file: real, st } : null;
  } catch {
    return null;
  }
}

// Strong-enough validator from size, mtime and path.
function etagOf(file, st) {
  return `"${createHash('sha1').update(`${file}:${st.size}:${st.mtimeMs}`).digest('base64url').slice(0, 20)}"`;
}

// Picks br, then gzip, when the client accepts them.
function encodingFor(req, type) {
  if (!COMPRESSIBLE.test(type)) return null;
  const accept = String(req.headers['accept-encoding'] ?? '');
  if (/\bbr\b/.test(accept)) return 'br';
  if (/\bgzip\b/.test(accept)) return 'gzip';
  return null;
}

// Sends a file (or 304), compressed when worthwhile.
function send(req, res, found, status) {
  const type = TYPES[path.extname(found.file).toLowerCase()] ?? 'application/octet-stream';
  const etag = etagOf(found.file, found.st);
  res.setHeader('Content-Type', type);
  res.setHeader('ETag', etag);
  res.setHeader('Vary', 'Accept-Encoding');
  res.setHeader('X-Content-Type-Options', 'nosniff');
  if (status === 200 && req.headers['if-none-match'] === etag) {
    res.writeHead(304);
    res.end();
    return;
  }
  const encoding = found.st.size > 256 ? encodingFor(req, type) : null;
  if (encoding) res.setHeader('Content-Encoding', encoding);
  else res.setHeader('Content-Length', found.st.size);
  res.writeHead(status);
  if (req.method === 'HEAD') {
    res.end();
    return;
  }
  const stream = fs.createReadStream(found.file);
  const out =
    encoding === 'br' ? zlib.createBrotliCompress() : encoding === 'gzip' ? zlib.createGzip() : null;
  (out ? stream.pipe(out) : stream).pipe(res);
}

const server = http.createServer((req, res) => {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { Allow: 'GET, HEAD', 'Content-Type': 'text/plain; charset=utf-8' });
    res.end('method not allowed\n');
    return;
  }
  const urlPath = (req.url ?? '/').split('?')[0] ?? '/';
  const found = resolveFile(urlPath);
  if (found) return send(req, res, found, 200);
  const page = resolveFile('/404.html');
  if (page) return send(req, res, page, 404);
  res.writeHead(404, { 'Content-Type': 'text/html; charset=utf-8' });
  res.end('<!doctype html><title>404 not found</title><h1>404</h1><p>no such page</p>\n');
});

server.listen(port, () => console.log(`static server: serving ${root} on port ${port}`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
