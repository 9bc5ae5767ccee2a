// The built dashboard, held in memory: every file of the build directory read once, with its
// content type, ETag and precompressed forms. Only files that were in the directory are ever
// served — a request path is a lookup key, never joined onto a filesystem path — so path traversal
// cannot reach anything else.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';

export interface WebAsset {
  body: Buffer;
  gzip?: Buffer;
  br?: Buffer;
  contentType: string;
  etag: string;
  /** Content-hashed file names (under assets/) never change: cache them forever. */
  immutable: boolean;
}

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.map': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.ico': 'image/x-icon',
  '.webp': 'image/webp',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
};

/** Smallest file worth compressing. */
const COMPRESS_MIN_BYTES = 1024;

/** Content type of a file name, by extension (unknown = opaque bytes). */
export function contentTypeOf(name: string): string {
  return CONTENT_TYPES[path.extname(name).toLowerCase()] ?? 'application/octet-stream';
}

/** True for types that compress well. */
function compressible(contentType: string): boolean {
  return /^(text\/|application\/json|image\/svg)/.test(contentType);
}

/** Reads one file into a WebAsset keyed by its URL path. */
function readAsset(file: string, urlPath: string): WebAsset {
  const body = fs.readFileSync(file);
  const contentType = contentTypeOf(file);
  const asset: WebAsset = {
    body,
    contentType,
    etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`,
    immutable: urlPath.startsWith('/assets/'),
  };
  if (compressible(contentType) && body.length >= COMPRESS_MIN_BYTES) {
    asset.gzip = zlib.gzipSync(body, { level: 9 });
    asset.br = zlib.brotliCompressSync(body, {
      params: {
        [zlib.constants.BROTLI_PARAM_QUALITY]: 11,
        [zlib.constants.BROTLI_PARAM_SIZE_HINT]: body.length,
      },
    });
  }
  return asset;
}

/** Loads every regular file under `dir` (symlinks and dot-files skipped); null when there is no index.html. */
export function loadWebAssets(dir: string): Map<string, WebAsset> | null {
  if (!fs.existsSync(path.join(dir, 'index.html'))) return null;
  const assets = new Map<string, WebAsset>();
  const walk = (rel: string) => {
    for (const entry of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
      if (entry.name.startsWith('.')) continue;
      const child = rel ? `${rel}/${entry.name}` : entry.name;
      if (entry.isDirectory()) walk(child);
      else if (entry.isFile()) assets.set(`/${child}`, readAsset(path.join(dir, child), `/${child}`));
    }
  };
  walk('');
  return assets;
}

/** Picks the best encoding the client accepts among those the asset has. */
export function pickEncoding(asset: WebAsset, acceptEncoding: string | undefined): 'br' | 'gzip' | undefined {
  const accepted = new Set(
    (acceptEncoding ?? '')
      .split(',')
      .map((part) => part.trim().split(';'))
      .filter(([, q]) => !q || !/^\s*q\s*=\s*0(\.0*)?\s*$/.test(q))
      .map(([name]) => name!.trim().toLowerCase()),
  );
  if (asset.br && accepted.has('br')) return 'br';
  if (asset.gzip && accepted.has('gzip')) return 'gzip';
  return undefined;
}
