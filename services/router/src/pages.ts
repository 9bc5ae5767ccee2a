// The router's own responses (404/502/503/504): small branded HTML pages, or JSON when asked for.
import type { IncomingMessage, ServerResponse } from 'node:http';

export interface ErrorPage {
  status: number;
  title: string;
  /** What happened, for a person. */
  detail: string;
  /** What to do about it. */
  hint: string;
}

const ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/** Escapes text for HTML element and attribute content. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c] ?? c);
}

/** Renders a page as HTML. */
export function renderHtml(page: ErrorPage): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>${page.status} ${escapeHtml(page.title)} · PaaSTech</title><style>body{font:16px/1.5 system-ui,sans-serif;max-width:36rem;margin:15vh auto;padding:0 1rem;color:#1b1b1f;background:#fff}@media(prefers-color-scheme:dark){body{color:#e8e8ee;background:#141418}}h1{font-size:1.4rem}small{opacity:.7}</style></head><body><h1>${page.status} · ${escapeHtml(page.title)}</h1><p>${escapeHtml(page.detail)}</p><p>${escapeHtml(page.hint)}</p><small>PaaSTech router</small></body></html>\n`;
}

/** Sends `page`, as JSON when the client prefers it, else HTML. */
export function sendPage(req: IncomingMessage, res: ServerResponse, page: ErrorPage): void {
  const wantsJson = /\bapplication\/json\b/.test(req.headers.accept ?? '');
  const body = wantsJson
    ? `${JSON.stringify({ status: page.status, title: page.title, detail: page.detail, hint: page.hint })}\n`
    : renderHtml(page);
  res.writeHead(page.status, {
    'content-type': wantsJson ? 'application/json; charset=utf-8' : 'text/html; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
  });
  res.end(req.method === 'HEAD' ? undefined : body);
}
