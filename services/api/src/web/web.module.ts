// Serves the built web dashboard (apps/web/dist) at `/` from the API's own origin: hashed assets as
// immutable, index.html for every other non-API path (the dashboard routes on the client), security
// headers on all of it. Paths under /api stay the API's: unknown ones get its problem+json 404.
import path from 'node:path';
import { Inject, Module, type OnModuleInit, Optional } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ApiConfig } from '../config.js';
import { API_CONFIG } from '../providers.js';
import { loadWebAssets, pickEncoding, type WebAsset } from './web-assets.js';
import { CACHE_IMMUTABLE, CACHE_REVALIDATE, notBuiltPage, SECURITY_HEADERS } from './web-headers.js';

/** apps/web/dist of this checkout: src/web and dist/web are both four levels below the repository. */
export const DEFAULT_WEB_DIR = path.resolve(import.meta.dirname, '../../../../apps/web/dist');

/** True for paths the REST API owns. */
function isApiPath(pathname: string): boolean {
  return pathname === '/api' || pathname.startsWith('/api/');
}

/** Serves the dashboard's files out of memory, loading the build directory on first use. */
export class WebAssetServer {
  private assets: Map<string, WebAsset> | null = null;

  constructor(readonly dir: string) {}

  /** The loaded build, retried on each request until it exists (a build may land while running). */
  private current(): Map<string, WebAsset> | null {
    this.assets ??= loadWebAssets(this.dir);
    return this.assets;
  }

  /** Answers one GET/HEAD request for a non-API path. */
  handle(request: FastifyRequest, reply: FastifyReply): void {
    const pathname = (request.raw.url ?? '/').split('?')[0]!;
    if (isApiPath(pathname)) {
      reply.callNotFound();
      return;
    }
    reply.headers(SECURITY_HEADERS);
    const assets = this.current();
    if (!assets) {
      reply
        .code(503)
        .header('cache-control', 'no-store')
        .type('text/html; charset=utf-8')
        .send(notBuiltPage(this.dir));
      return;
    }
    const asset = assets.get(pathname === '/' ? '/index.html' : pathname);
    if (asset) {
      this.send(request, reply, asset);
      return;
    }
    if (pathname.startsWith('/assets/')) {
      reply
        .code(404)
        .header('cache-control', 'no-store')
        .type('text/plain; charset=utf-8')
        .send('not found\n');
      return;
    }
    this.send(request, reply, assets.get('/index.html')!);
  }

  /** Sends an asset with caching headers, a 304 on a matching ETag, and the best encoding. */
  private send(request: FastifyRequest, reply: FastifyReply, asset: WebAsset): void {
    reply
      .header('cache-control', asset.immutable ? CACHE_IMMUTABLE : CACHE_REVALIDATE)
      .header('etag', asset.etag)
      .header('vary', 'accept-encoding')
      .type(asset.contentType);
    if (request.headers['if-none-match'] === asset.etag) {
      reply.code(304).send();
      return;
    }
    const encoding = pickEncoding(asset, request.headers['accept-encoding']);
    if (encoding) reply.header('content-encoding', encoding).send(asset[encoding]);
    else reply.send(asset.body);
  }
}

/** Registers the dashboard's catch-all GET route on the API's Fastify instance. */
@Module({})
export class WebModule implements OnModuleInit {
  constructor(
    private readonly adapterHost: HttpAdapterHost,
    @Optional() @Inject(API_CONFIG) private readonly config?: ApiConfig,
  ) {}

  onModuleInit(): void {
    const server = new WebAssetServer(this.config?.webDir ?? DEFAULT_WEB_DIR);
    const fastify = this.adapterHost.httpAdapter.getInstance<FastifyInstance>();
    fastify.get('/*', (request, reply) => server.handle(request, reply));
  }
}
