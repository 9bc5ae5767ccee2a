// Security and caching headers of the dashboard's responses. The CSP allows scripts and styles from
// the API's own origin only (no inline script, no eval), so text an app prints (logs, build output)
// can never run even if it were mis-rendered; framing is refused to stop clickjacking.

export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "manifest-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "object-src 'none'",
].join('; ');

/** Headers every dashboard response carries. */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': CONTENT_SECURITY_POLICY,
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'same-origin',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
  'permissions-policy': 'camera=(), microphone=(), geolocation=(), payment=()',
};

/** Cache-Control for hashed, never-changing files. */
export const CACHE_IMMUTABLE = 'public, max-age=31536000, immutable';
/** Cache-Control for index.html and other unhashed files: always revalidate. */
export const CACHE_REVALIDATE = 'no-cache';

/** The page `/` answers when the dashboard has not been built. */
export function notBuiltPage(dir: string): string {
  const escaped = dir.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>PaaSTech: dashboard not built</title></head>
<body><h1>The PaaSTech dashboard is not built</h1>
<p>Run <code>npm run build</code> in the PaaSTech checkout, then reload this page.</p>
<p>Looked for it in <code>${escaped}</code> (set <code>PAASTECH_WEB_DIR</code> to serve it from elsewhere).</p>
<p>The REST API is running: its description is at <a href="/api/openapi.json">/api/openapi.json</a>.</p>
</body></html>
`;
}
