// The router's own responses (404/502/503/504): small branded HTML pages, or JSON when asked for.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { routing } from '@paastech/proto';
import type { RouteEntry } from './routes.js';

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

/** Renders a page as one line of JSON (plus newline). */
export function renderJson(page: ErrorPage): string {
  return `${JSON.stringify({ status: page.status, title: page.title, detail: page.detail, hint: page.hint })}\n`;
}

/** True when the Accept header asks for JSON. */
export function wantsJson(accept: string | undefined): boolean {
  return accept !== undefined && /\bapplication\/json\b/.test(accept);
}

/** Sends `page`, as JSON when the client prefers it, else HTML. */
export function sendPage(
  req: IncomingMessage,
  res: ServerResponse,
  page: ErrorPage,
  extraHeaders: Record<string, string> = {},
): void {
  const json = wantsJson(req.headers.accept);
  const body = json ? renderJson(page) : renderHtml(page);
  res.writeHead(page.status, {
    'content-type': json ? 'application/json; charset=utf-8' : 'text/html; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
    ...extraHeaders,
  });
  res.end(req.method === 'HEAD' ? undefined : body);
}

/**
 * Serialises `page` as a complete HTTP/1.1 response that closes the connection (raw sockets), with
 * the headers sendPage sets; the answer to a HEAD request has no body.
 */
export function rawResponse(page: ErrorPage, accept: string | undefined, method = 'GET'): string {
  const json = wantsJson(accept);
  const body = json ? renderJson(page) : renderHtml(page);
  const type = json ? 'application/json; charset=utf-8' : 'text/html; charset=utf-8';
  return `HTTP/1.1 ${page.status} ${page.title}\r\ncontent-type: ${type}\r\ncontent-length: ${Buffer.byteLength(body)}\r\ncache-control: no-store\r\nx-content-type-options: nosniff\r\nconnection: close\r\n\r\n${method === 'HEAD' ? '' : body}`;
}

const R = routing.RouteUnavailableReason;

/** Why a project has no instance to serve, in words, and what its owner can do. */
const REASONS: Record<number, { detail: string; hint: string }> = {
  [R.ROUTE_UNAVAILABLE_REASON_NOT_DEPLOYED]: {
    detail: 'has not been deployed yet',
    hint: 'Push code to the project to deploy it.',
  },
  [R.ROUTE_UNAVAILABLE_REASON_BUILDING]: {
    detail: 'is being built',
    hint: 'Try again in a moment; the first deployment is on its way.',
  },
  [R.ROUTE_UNAVAILABLE_REASON_STARTING]: {
    detail: 'is starting',
    hint: 'Try again in a moment; its instances have not passed their health check yet.',
  },
  [R.ROUTE_UNAVAILABLE_REASON_CRASHED]: {
    detail: 'crashed',
    hint: 'Its owner can read the logs (paastech logs) and push a fix; it is restarted automatically.',
  },
  [R.ROUTE_UNAVAILABLE_REASON_UNHEALTHY]: {
    detail: 'is failing its health checks',
    hint: 'Its owner can read the logs (paastech logs) to see why.',
  },
  [R.ROUTE_UNAVAILABLE_REASON_SCALED_TO_ZERO]: {
    detail: 'is scaled to 0 instances',
    hint: 'Its owner can scale it up (paastech ps:scale web=1).',
  },
  [R.ROUTE_UNAVAILABLE_REASON_STOPPED]: {
    detail: 'is stopped',
    hint: 'Its owner can start it again from the dashboard or the CLI.',
  },
  [R.ROUTE_UNAVAILABLE_REASON_NO_WEB_PROCESS]: {
    detail: 'has no web process',
    hint: 'Add a "web:" line to the Procfile to serve HTTP.',
  },
};

/** The 503 page of a project with no healthy instance, saying why. */
export function unavailablePage(route: RouteEntry): ErrorPage {
  const reason = REASONS[route.reason] ?? {
    detail: 'has no healthy instance',
    hint: 'Try again in a moment.',
  };
  const more = route.message ? ` (${route.message})` : '';
  return {
    status: 503,
    title: 'Application unavailable',
    detail: `Project "${route.projectName}" ${reason.detail}${more}.`,
    hint: reason.hint,
  };
}

/** The 502 page: an instance refused or dropped the connection. */
export function badGatewayPage(projectName: string): ErrorPage {
  return {
    status: 502,
    title: 'Bad gateway',
    detail: `Project "${projectName}" did not answer: its instance refused or dropped the connection.`,
    hint: 'Try again in a moment; if it persists, its owner can read the logs (paastech logs).',
  };
}

/** The 504 page: an instance took too long. */
export function gatewayTimeoutPage(projectName: string): ErrorPage {
  return {
    status: 504,
    title: 'Gateway timeout',
    detail: `Project "${projectName}" took too long to answer.`,
    hint: 'Try again; if it persists, its owner can look for slow requests in the logs.',
  };
}

/** The 404 page: no project serves this host. */
export function notFoundPage(host: string, appsDomain: string, port: number): ErrorPage {
  return {
    status: 404,
    title: 'No application here',
    detail: host ? `No project is served at "${host}".` : 'The request named no host.',
    hint: `Projects are served at http://<project>.${appsDomain}:${port}/ — check the project name, or add this host as a domain of your project.`,
  };
}

/** The 413 page: the request body is over the limit. */
export function tooLargePage(limit: number): ErrorPage {
  return {
    status: 413,
    title: 'Request too large',
    detail: `The request body is larger than the router accepts (${limit} bytes).`,
    hint: 'Send a smaller body, or upload in parts.',
  };
}

/** The 400 page: a malformed or ambiguous request (never forwarded). */
export function badRequestPage(detail: string): ErrorPage {
  return {
    status: 400,
    title: 'Bad request',
    detail,
    hint: 'Send one Host header and at most one of Content-Length or Transfer-Encoding: chunked.',
  };
}
