// Git smart HTTP: `/<project>.git/info/refs?service=…` and `/<project>.git/git-(upload|receive)-pack`.
// Authorise first, then pipe: the path is matched by one allow-list regex (anything else is 404),
// the credential is checked with the API, and only then is the body piped into
// `git <service> --stateless-rpc`. A project the credential may not use is a 404, exactly like one
// that does not exist.
import type { ChildProcess } from 'node:child_process';
import type http from 'node:http';
import { Transform, type TransformCallback } from 'node:stream';
import zlib from 'node:zlib';
import type { Logger } from '@paastech/kit';
import { control } from '@paastech/proto';
import { pktLine, receivePackAdvertisement } from './advertise.js';
import { accessUncheckable, type ControlClient } from './control.js';
import { type GitServiceName, matchAdvertisedService, matchGitHttpPath, splitRequestUrl } from './parse.js';
import type { FailureLimiter } from './rate-limit.js';
import { checkedProtocol, collectGitService, type GitServeDeps, startGitService } from './serve-git.js';

/** What the HTTP transport needs. */
export interface HttpDeps extends GitServeDeps {
  control: ControlClient;
  limiter: FailureLimiter;
  idleTimeoutMs: number;
  logger: Logger;
}

const { GitAccessDenialReason: Denial } = control;

/** Sends a short plain-text answer (git shows text/plain bodies of errors to the user). */
function answer(
  res: http.ServerResponse,
  status: number,
  text: string,
  headers: Record<string, string> = {},
) {
  if (res.headersSent) return void res.destroy();
  const body = Buffer.from(`${text}\n`);
  res.writeHead(status, {
    'content-type': 'text/plain; charset=utf-8',
    'content-length': String(body.length),
    'cache-control': 'no-cache',
    ...headers,
  });
  res.end(body);
}

/** The password of a Basic Authorization header (the user name is ignored); undefined if absent. */
export function basicPassword(header: string | undefined): string | undefined {
  const m = /^Basic ([A-Za-z0-9+/=]{1,4096})$/i.exec(header ?? '');
  if (!m) return undefined;
  const decoded = Buffer.from(m[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  const password = colon < 0 ? '' : decoded.slice(colon + 1);
  return password === '' ? undefined : password;
}

/** Returns the request handler of the git HTTP listener (it also answers /healthz). */
export function gitHttpHandler(deps: HttpDeps): http.RequestListener {
  return (req, res) => {
    handle(deps, req, res).catch((err: unknown) => {
      deps.logger.error({ err }, 'git http request failed');
      answer(res, 500, 'internal error');
    });
  };
}

/** Routes one request: health, then the allow-listed git endpoints, everything else 404. */
async function handle(deps: HttpDeps, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  if (req.url === '/healthz' && req.method === 'GET') {
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}\n');
    return;
  }
  const parts = splitRequestUrl(req.url ?? '');
  const route = parts && matchGitHttpPath(parts.pathname);
  if (!parts || !route) return answer(res, 404, 'not found');
  let service: GitServiceName | undefined;
  if (route.endpoint === 'info/refs') {
    service = req.method === 'GET' ? matchAdvertisedService(parts.query) : undefined;
  } else {
    service = req.method === 'POST' && parts.query === '' ? route.endpoint : undefined;
  }
  if (!service) return answer(res, 404, 'not found');
  const advertise = route.endpoint === 'info/refs';
  if (!advertise) {
    const problem = bodyProblem(req, service);
    if (problem) return answer(res, problem.status, problem.text);
  }
  const access = await authorize(deps, req, res, route.project, service);
  if (!access) return;
  if (advertise) return advertiseRefs(deps, req, res, service, access);
  return serveRpc(deps, req, res, service, access);
}

/** Checks content type, encoding and declared length of a POST; undefined when fine. */
function bodyProblem(
  req: http.IncomingMessage,
  service: GitServiceName,
): { status: number; text: string } | undefined {
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== `application/x-git-${service.slice(4)}-request`) {
    return { status: 415, text: `content type must be application/x-git-${service.slice(4)}-request` };
  }
  const encoding = (req.headers['content-encoding'] ?? 'identity').toLowerCase();
  if (encoding !== 'identity' && encoding !== 'gzip' && encoding !== 'x-gzip') {
    return { status: 415, text: `content encoding "${encoding.slice(0, 40)}" is not supported (gzip only)` };
  }
  return undefined;
}

/** The message of a push over the size limit. */
function tooLarge(maxBytes: number): string {
  return `push rejected: larger than the limit of ${maxBytes} bytes (PAASTECH_GIT_MAX_PUSH_BYTES)`;
}

/** Whom the API let in. */
interface Access {
  projectId: string;
  clientId: string;
}

/** Rate limit, credential, API decision; answers the refusal itself and returns undefined then. */
async function authorize(
  deps: HttpDeps,
  req: http.IncomingMessage,
  res: http.ServerResponse,
  project: string,
  service: GitServiceName,
): Promise<Access | undefined> {
  const ip = req.socket.remoteAddress ?? '';
  const retry = deps.limiter.retryAfter(ip);
  if (retry > 0) {
    answer(res, 429, `too many failed authentications; retry in ${retry} s`, {
      'retry-after': String(retry),
    });
    return undefined;
  }
  const token = basicPassword(req.headers.authorization);
  if (token === undefined) {
    answer(res, 401, 'authentication required: use an api token as the password', {
      'www-authenticate': 'Basic realm="PaaSTech"',
    });
    return undefined;
  }
  const decision = await deps.control
    .authorize({
      credential: { $case: 'apiToken', value: token },
      projectName: project,
      write: service === 'git-receive-pack',
      transport: 'http',
      remoteAddress: ip,
    })
    .catch((err: Error) => {
      deps.logger.warn({ err }, 'authorize git access failed');
      return err;
    });
  if (decision instanceof Error) {
    answer(res, 503, accessUncheckable(decision));
    return undefined;
  }
  const notFound = `repository "${project}" not found`;
  if (!decision.allowed) {
    if (decision.denialReason === Denial.GIT_ACCESS_DENIAL_REASON_INSUFFICIENT_SCOPE) {
      answer(res, 403, decision.denialMessage || 'permission denied');
      return undefined;
    }
    // Only bad credentials count: a valid one asking for a wrong project is the API's to limit.
    if (decision.denialReason === Denial.GIT_ACCESS_DENIAL_REASON_INVALID_CREDENTIAL) {
      deps.limiter.fail(ip);
      answer(res, 401, 'invalid or revoked token', { 'www-authenticate': 'Basic realm="PaaSTech"' });
    } else {
      answer(res, 404, notFound);
    }
    return undefined;
  }
  try {
    deps.repos.existingPath(decision.projectId);
  } catch {
    answer(res, 404, notFound);
    return undefined;
  }
  return { projectId: decision.projectId, clientId: decision.clientId };
}

/** The Git-Protocol header, when well-formed. */
function protocolOf(req: http.IncomingMessage): string | undefined {
  const h = req.headers['git-protocol'];
  return checkedProtocol(Array.isArray(h) ? h[0] : h);
}

/**
 * GET info/refs: the service's ref advertisement (with the `# service=` preamble before v2). A
 * push's is written in-process when the repository allows it (advertise.ts), else git's is piped.
 */
async function advertiseRefs(
  deps: HttpDeps,
  req: http.IncomingMessage,
  res: http.ServerResponse,
  service: GitServiceName,
  access: Access,
): Promise<void> {
  const protocol = protocolOf(req);
  const run = { service, ...access, stateless: true, advertise: true, protocol };
  const head = {
    'content-type': `application/x-git-${service.slice(4)}-advertisement`,
    'cache-control': 'no-cache, max-age=0, must-revalidate',
  };
  const preamble = Buffer.concat([pktLine(`# service=${service}\n`), Buffer.from('0000')]);
  if (service === 'git-receive-pack') {
    const repo = deps.repos.existingPath(access.projectId);
    const ad = await receivePackAdvertisement(deps.runtime, repo, protocol, () =>
      collectGitService(deps, run),
    );
    if (ad) {
      res.writeHead(200, { ...head, 'content-length': String(preamble.length + ad.body.length) });
      res.end(Buffer.concat([preamble, ad.body]));
      return;
    }
  }
  const child = startGitService(deps, run);
  child.stdin?.end();
  res.writeHead(200, head);
  const v2 = service === 'git-upload-pack' && /(^|:)version=2(:|$)/.test(protocol ?? '');
  if (!v2) res.write(preamble);
  pipeOutput(child, res);
}

/** Pipes git's stdout into the response; ends (or aborts) it when git exits. */
function pipeOutput(child: ChildProcess, res: http.ServerResponse): void {
  child.stdout!.pipe(res, { end: false });
  child.stderr!.resume();
  res.on('close', () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
  });
  child.on('close', (code) => {
    if (code === 0) res.end();
    else res.destroy();
  });
}

/** POST git-upload-pack|git-receive-pack: body (gunzipped, counted, idle-timed) into git, output back. */
function serveRpc(
  deps: HttpDeps,
  req: http.IncomingMessage,
  res: http.ServerResponse,
  service: GitServiceName,
  access: Access,
): void {
  // A fetch's request (wants and haves) is small; the same bound stops a gzip bomb there too.
  const limit = deps.maxPushBytes;
  if (Number(req.headers['content-length'] ?? 0) > limit && !req.headers['content-encoding']) {
    // Declared too large: answer at once, before git is even started.
    refuseOversized(res, service, deps.maxPushBytes);
    return;
  }
  const child = startGitService(deps, {
    service,
    ...access,
    stateless: true,
    advertise: false,
    protocol: protocolOf(req),
  });
  let refusedTooLarge = false;
  const counter = new ByteLimit(limit, () => {
    refusedTooLarge = true;
    // A truncated pack makes git give up by itself and clean its quarantine (a kill may not).
    child.stdin?.end();
    refuseOversized(res, service, deps.maxPushBytes);
  });
  const idle = setInterval(
    () => {
      if (Date.now() - counter.lastData > deps.idleTimeoutMs) {
        clearInterval(idle);
        child.kill('SIGTERM');
        req.destroy();
      }
    },
    Math.min(1000, deps.idleTimeoutMs),
  );
  const encoding = (req.headers['content-encoding'] ?? '').toLowerCase();
  const source = encoding === 'gzip' || encoding === 'x-gzip' ? req.pipe(zlib.createGunzip()) : req;
  source.on('error', () => child.kill('SIGTERM'));
  source.pipe(counter).pipe(child.stdin!);
  counter.on('end', () => clearInterval(idle));
  child.stdin!.on('error', () => {});
  res.on('close', () => clearInterval(idle));
  child.stdout!.once('data', () => {
    if (!res.headersSent) {
      res.writeHead(200, {
        'content-type': `application/x-git-${service.slice(4)}-result`,
        'cache-control': 'no-cache, max-age=0, must-revalidate',
      });
    }
  });
  child.stdout!.on('data', (b: Buffer) => {
    if (!refusedTooLarge) res.write(b);
  });
  child.stderr!.resume();
  res.on('close', () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
  });
  child.on('close', (code) => {
    clearInterval(idle);
    if (refusedTooLarge) return;
    if (code === 0 && res.headersSent) res.end();
    else if (code === 0) answer(res, 200, '');
    else res.destroy();
  });
}

/**
 * Answers a push over the size limit in receive-pack's own protocol, so the pusher sees the rule:
 * the message on side band 2 (printed as `remote: …`), then a fatal error on side band 3.
 */
function refuseOversized(res: http.ServerResponse, service: GitServiceName, maxBytes: number): void {
  if (res.headersSent) return void res.destroy();
  if (service === 'git-upload-pack') {
    answer(res, 413, `request larger than ${maxBytes} bytes`);
    return;
  }
  const text = tooLarge(maxBytes);
  res.writeHead(200, {
    'content-type': 'application/x-git-receive-pack-result',
    'cache-control': 'no-cache',
  });
  res.end(
    Buffer.concat([
      pktLine(Buffer.concat([Buffer.from([2]), Buffer.from(`${text}\n`)])),
      pktLine(Buffer.concat([Buffer.from([3]), Buffer.from(text)])),
    ]),
  );
}

/** Passes bytes through until more than `limit` went by, then calls `onExceeded` and stops. */
class ByteLimit extends Transform {
  private seen = 0;
  lastData = Date.now();
  constructor(
    private readonly limit: number,
    private readonly onExceeded: () => void,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.lastData = Date.now();
    this.seen += chunk.length;
    if (this.seen > this.limit) {
      if (this.seen - chunk.length <= this.limit) this.onExceeded();
      done();
      return;
    }
    done(null, chunk);
  }
}
