// Header rules of the edge, shared by both data planes and table-tested on their own.
//
// Invariants: the forwarding headers (X-Forwarded-For/-Proto/-Host/-Port, X-Request-Id, Forwarded)
// are written by the router only — whatever a client sent under those names is dropped; hop-by-hop
// headers never cross the router, nor do headers a sender lists in `Connection`, EXCEPT that
// `Connection` can never remove a header the router itself relies on (Host, Content-Length and the
// forwarding headers — Traefik CVE-2024-45410 let a client strip X-Forwarded-* that way).

/** RFC 9110 §7.6.1 hop-by-hop headers, plus the non-standard ones proxies also drop. */
export const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

/**
 * Headers only the router writes, or that frameworks read as set by a proxy; client-sent values
 * are removed. Beyond the ones the router sets: Rack takes X-Forwarded-Ssl/-Scheme over
 * X-Forwarded-Proto, Spring and Werkzeug read X-Forwarded-Prefix, many apps take X-Real-Ip as the
 * client address, Envoy-style mTLS identity comes in X-Forwarded-Client-Cert (Traefik strips the
 * same family).
 */
export const FORWARDING = new Set([
  'x-forwarded-for',
  'x-forwarded-proto',
  'x-forwarded-host',
  'x-forwarded-port',
  'x-request-id',
  'forwarded',
  'x-forwarded-ssl',
  'x-forwarded-scheme',
  'x-forwarded-server',
  'x-forwarded-prefix',
  'x-forwarded-uri',
  'x-forwarded-method',
  'x-forwarded-client-cert',
  'x-forwarded-tls-client-cert',
  'x-forwarded-tls-client-cert-info',
  'x-real-ip',
  'front-end-https',
]);

/** Headers `Connection` may never remove. */
export const PROTECTED = new Set(['host', 'content-length', ...FORWARDING]);

/** Lower-case header names listed in Connection header values (comma-separated tokens). */
export function connectionTokens(values: string[]): Set<string> {
  const out = new Set<string>();
  for (const value of values) {
    for (const token of value.split(',')) {
      const name = token.trim().toLowerCase();
      if (name !== '' && !PROTECTED.has(name)) out.add(name);
    }
  }
  return out;
}

/** Counts headers named `lowerName` in a raw header list ([name, value, name, value, …]). */
export function countHeader(raw: string[], lowerName: string): number {
  let n = 0;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string;
    if (name.length === lowerName.length && name.toLowerCase() === lowerName) n++;
  }
  return n;
}

/** Values of every `Connection` header in a raw header list. */
function connectionValues(raw: string[]): string[] | undefined {
  let values: string[] | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string;
    if (name.length === 10 && name.toLowerCase() === 'connection') {
      values ??= [];
      values.push(raw[i + 1] as string);
    }
  }
  return values;
}

/**
 * Copies a raw header list without hop-by-hop headers, headers named in Connection, and (when
 * `dropForwarding`) client-sent forwarding headers; hop-by-hop and forwarding names in any spelling
 * of - and _. `keepUpgrade` keeps Upgrade, and one
 * Connection header that names nothing but the upgrade, for a WebSocket handshake.
 */
export function filterHeaders(raw: string[], dropForwarding: boolean, keepUpgrade = false): string[] {
  const conn = connectionValues(raw);
  const named = conn ? connectionTokens(conn) : undefined;
  const out: string[] = [];
  let connectionKept = false;
  for (let i = 0; i < raw.length; i += 2) {
    const name = (raw[i] as string).toLowerCase();
    if (keepUpgrade && name === 'upgrade') {
      out.push(raw[i] as string, raw[i + 1] as string);
      continue;
    }
    if (keepUpgrade && name === 'connection' && !connectionKept) {
      out.push(raw[i] as string, 'Upgrade');
      connectionKept = true;
      continue;
    }
    // Underscore spellings too: CGI-style servers read Transfer_Encoding as Transfer-Encoding.
    const dashed = name.includes('_') ? name.replaceAll('_', '-') : name;
    if (HOP_BY_HOP.has(dashed) || named?.has(name)) continue;
    if (dropForwarding && FORWARDING.has(dashed)) continue;
    out.push(raw[i] as string, raw[i + 1] as string);
  }
  return out;
}

/** Why a request must be refused before it reaches an instance (request smuggling), or undefined. */
export function smugglingProblem(raw: string[]): string | undefined {
  let hosts = 0;
  let lengths = 0;
  let encodings = 0;
  let encoding = '';
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string;
    const len = name.length;
    if (len !== 4 && len !== 14 && len !== 17) continue;
    const lower = name.toLowerCase();
    if (lower === 'host') hosts++;
    else if (lower === 'content-length') lengths++;
    else if (lower === 'transfer-encoding') {
      encodings++;
      encoding = (raw[i + 1] as string).trim().toLowerCase();
    }
  }
  if (hosts > 1) return 'the request has more than one Host header';
  if (lengths > 1) return 'the request has more than one Content-Length header';
  if (encodings > 0 && lengths > 0) return 'the request has both Transfer-Encoding and Content-Length';
  if (encodings > 1 || (encodings === 1 && encoding !== 'chunked'))
    return 'the only Transfer-Encoding accepted is a single "chunked"';
  return undefined;
}
