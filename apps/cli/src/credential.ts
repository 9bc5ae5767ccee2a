// git's credential-helper protocol (gitcredentials(7)): git writes `key=value` lines ending with a
// blank line; `get` answers `username=` and `password=` lines, or nothing to let git ask elsewhere.

/** What git asks about: the protocol and host (host includes the port) of the remote. */
export interface CredentialRequest {
  protocol?: string;
  host?: string;
  path?: string;
  username?: string;
}

/** Parses git's request; unknown keys are ignored, a `url=` is split into its parts. */
export function parseCredentialRequest(input: string): CredentialRequest {
  const out: CredentialRequest = {};
  for (const line of input.split('\n')) {
    if (line === '' || line === '\r') break;
    const eq = line.indexOf('=');
    if (eq <= 0) continue;
    const key = line.slice(0, eq);
    const value = line.slice(eq + 1).replace(/\r$/, '');
    if (key === 'protocol' || key === 'host' || key === 'path' || key === 'username') out[key] = value;
    else if (key === 'url') Object.assign(out, splitUrl(value));
  }
  return out;
}

function splitUrl(url: string): CredentialRequest {
  try {
    const u = new URL(url);
    return { protocol: u.protocol.replace(/:$/, ''), host: u.host, path: u.pathname.replace(/^\//, '') };
  } catch {
    return {};
  }
}

/** The origin (`http://host:port`) a request is about, lower-cased, or undefined if incomplete. */
export function requestOrigin(req: CredentialRequest): string | undefined {
  if (!req.protocol || !req.host) return undefined;
  if (req.protocol !== 'http' && req.protocol !== 'https') return undefined;
  return `${req.protocol}://${req.host}`.toLowerCase();
}

/** Formats the answer to `get`; refuses values that would break the line protocol. */
export function formatCredential(username: string, password: string): string {
  for (const v of [username, password]) {
    if (/[\n\r\0]/.test(v)) throw new Error('credential contains a line break or NUL byte');
  }
  return `username=${username}\npassword=${password}\n`;
}

/** The origin of a URL (scheme, host, port) in the form git's credential requests use. */
export function originOf(url: string): string {
  const u = new URL(url);
  return `${u.protocol}//${u.host}`.toLowerCase();
}
