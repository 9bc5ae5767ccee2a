// Git over SSH. A client proves it holds a key (the signature is verified here); whether that key
// may read or write the project is asked of the API once the exec request names the project, since
// the project is not known at authentication time. Only `git-upload-pack '<project>.git'` and
// `git-receive-pack '<project>.git'` run; shells, other commands, subsystems, forwarding and env
// requests (except a well-formed GIT_PROTOCOL) are refused.
import { createHash } from 'node:crypto';
import type net from 'node:net';
import type { Logger } from '@paastech/kit';
import { control } from '@paastech/proto';
import ssh2 from 'ssh2';
import { accessUncheckable, type ControlClient } from './control.js';
import { parseSshCommand } from './parse.js';
import type { FailureLimiter } from './rate-limit.js';
import { checkedProtocol, type GitServeDeps, startGitService } from './serve-git.js';

/** What the SSH transport needs. */
export interface SshDeps extends GitServeDeps {
  control: ControlClient;
  limiter: FailureLimiter;
  idleTimeoutMs: number;
  logger: Logger;
}

const { GitAccessDenialReason: Denial } = control;
const USAGE =
  "paastech: only git-upload-pack '<project>.git' and git-receive-pack '<project>.git' are allowed";

// Ciphers Node's OpenSSL runs natively. ssh2's chacha20-poly1305 needs an optional native addon
// we do not build (npm install scripts are off), and its JS fallback made clones 5× slower. GCM
// only: OpenSSH prefers CTR (with a MAC, slower here) when offered, and has had GCM since 6.2.
const CIPHERS: ssh2.CipherAlgorithm[] = ['aes128-gcm@openssh.com', 'aes256-gcm@openssh.com'];

/** OpenSSH's fingerprint of a public key blob: `SHA256:` + unpadded base64 of its sha256. */
export function sshFingerprint(blob: Buffer): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

/** True when `signature` over `blob` verifies with the offered public key. */
function signatureValid(key: { algo: string; data: Buffer }, blob: Buffer, signature: Buffer, hash?: string) {
  const parsed = ssh2.utils.parseKey(`${key.algo} ${key.data.toString('base64')}`);
  if (parsed instanceof Error || Array.isArray(parsed)) return false;
  return parsed.verify(blob, signature, hash as never) === true;
}

/** The SSH listener: bind it, and close it (connections get 5 s, then are ended). */
export interface SshServer {
  listen(host: string, port: number): Promise<number>;
  close(): Promise<void>;
}

/** Creates the SSH server (not yet listening). */
export function createSshServer(deps: SshDeps, hostKey: string): SshServer {
  const clients = new Set<ssh2.Connection>();
  let bound = false;
  const server = new ssh2.Server(
    { hostKeys: [hostKey], ident: 'PaaSTech', algorithms: { cipher: CIPHERS } },
    (client, info) => {
      clients.add(client);
      client.on('close', () => clients.delete(client));
      onClient(deps, client, info.ip);
    },
  );
  return {
    listen: (host, port) =>
      new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          // An accept-time error (EMFILE…) must not take the whole platform down.
          server.on('error', (err: Error) => deps.logger.error({ err }, 'git ssh server error'));
          bound = true;
          resolve((server.address() as net.AddressInfo).port);
        });
      }),
    close: () =>
      new Promise((resolve) => {
        if (!bound) return resolve();
        bound = false;
        const timer = setTimeout(() => {
          for (const c of clients) c.end();
        }, 5000);
        server.close(() => {
          clearTimeout(timer);
          resolve();
        });
      }),
  };
}

/** One SSH connection: public-key authentication, then sessions. */
function onClient(deps: SshDeps, client: ssh2.Connection, ip: string): void {
  let fingerprint = '';
  const handshake = setTimeout(() => client.end(), 30_000);
  client.on('error', () => {});
  client.on('authentication', (ctx) => {
    if (ctx.method !== 'publickey') return ctx.reject(['publickey']);
    if (!ctx.signature || !ctx.blob) return ctx.accept();
    if (!signatureValid(ctx.key, ctx.blob, ctx.signature, ctx.hashAlgo)) return ctx.reject(['publickey']);
    fingerprint = sshFingerprint(ctx.key.data);
    ctx.accept();
  });
  client.on('ready', () => {
    clearTimeout(handshake);
    client.on('session', (accept) => onSession(deps, accept(), fingerprint, ip));
    client.on('tcpip', (_accept, reject) => reject());
    client.on('openssh.streamlocal', (_accept, reject) => reject());
    client.on('request', (_accept, reject) => reject?.());
  });
  client.on('close', () => clearTimeout(handshake));
}

/** A session: one git command, with GIT_PROTOCOL as the only environment accepted. */
function onSession(deps: SshDeps, session: ssh2.Session, fingerprint: string, ip: string): void {
  let protocol: string | undefined;
  const refuse = (accept: () => ssh2.ServerChannel, message: string) => {
    const ch = accept();
    ch.stderr.write(`${message}\n`);
    ch.exit(1);
    ch.end();
  };
  session.on('env', (accept, reject, info) => {
    const value = checkedProtocol(info.val);
    if (info.key === 'GIT_PROTOCOL' && value) {
      protocol = value;
      accept?.();
    } else reject?.();
  });
  session.on('pty', (_accept, reject) => reject?.());
  session.on('x11', (_accept, reject) => reject?.());
  session.on('auth-agent', (_accept, reject) => reject?.());
  session.on('signal', (_accept, reject) => reject?.());
  session.on('shell', (accept) => refuse(accept, `paastech: no shell access. ${USAGE}`));
  session.on('subsystem', (accept) => refuse(accept, `paastech: no subsystems. ${USAGE}`));
  session.on('sftp', (_accept, reject) => reject());
  session.on('exec', (accept, _reject, info) => {
    const ch = accept();
    runExec(deps, ch, info.command, fingerprint, ip, protocol).catch((err: unknown) => {
      deps.logger.error({ err }, 'git ssh exec failed');
      finish(ch, 'paastech: internal error', 1);
    });
  });
}

/** Writes a last line to stderr and closes the channel with `code`. */
function finish(ch: ssh2.ServerChannel, message: string, code: number): void {
  if (message) ch.stderr.write(`${message}\n`);
  ch.exit(code);
  ch.end();
}

/** Runs an exec request: parse strictly, authorize with the API, then pipe the channel into git. */
async function runExec(
  deps: SshDeps,
  ch: ssh2.ServerChannel,
  command: string,
  fingerprint: string,
  ip: string,
  protocol: string | undefined,
): Promise<void> {
  const cmd = parseSshCommand(command);
  if (!cmd) return finish(ch, USAGE, 1);
  const retry = deps.limiter.retryAfter(ip);
  if (retry > 0) return finish(ch, `paastech: too many failed attempts; retry in ${retry} s`, 1);
  if (!fingerprint) return finish(ch, 'paastech: permission denied (publickey)', 1);
  const decision = await deps.control
    .authorize({
      credential: { $case: 'sshKeyFingerprint', value: fingerprint },
      projectName: cmd.project,
      write: cmd.service === 'git-receive-pack',
      transport: 'ssh',
      remoteAddress: ip,
    })
    .catch((err: unknown) => (err instanceof Error ? err : new Error(String(err))));
  if (decision instanceof Error) return finish(ch, `paastech: ${accessUncheckable(decision)}`, 1);
  const notFound = `paastech: repository "${cmd.project}" not found`;
  if (!decision.allowed) {
    if (decision.denialReason === Denial.GIT_ACCESS_DENIAL_REASON_INSUFFICIENT_SCOPE) {
      return finish(ch, `paastech: ${decision.denialMessage || 'permission denied'}`, 1);
    }
    const invalid = decision.denialReason === Denial.GIT_ACCESS_DENIAL_REASON_INVALID_CREDENTIAL;
    if (invalid) deps.limiter.fail(ip);
    return finish(ch, invalid ? 'paastech: permission denied (publickey)' : notFound, 1);
  }
  try {
    deps.repos.existingPath(decision.projectId);
  } catch {
    return finish(ch, notFound, 1);
  }
  pipeChannel(deps, ch, {
    service: cmd.service,
    projectId: decision.projectId,
    clientId: decision.clientId,
    protocol,
  });
}

/** Pipes the channel into the git service (stateful), with the push size limit and an idle cut-off. */
function pipeChannel(
  deps: SshDeps,
  ch: ssh2.ServerChannel,
  r: {
    service: 'git-upload-pack' | 'git-receive-pack';
    projectId: string;
    clientId: string;
    protocol?: string;
  },
): void {
  const child = startGitService(deps, {
    ...r,
    stateless: false,
    advertise: false,
    timeoutSeconds: Math.ceil(deps.idleTimeoutMs / 1000),
  });
  let received = 0;
  let refused = '';
  let lastInput = Date.now();
  const limit = r.service === 'git-receive-pack' ? deps.maxPushBytes : Number.POSITIVE_INFINITY;
  ch.on('data', (b: Buffer) => {
    lastInput = Date.now();
    received += b.length;
    if (received > limit && !refused) {
      refused = `paastech: push rejected: larger than the limit of ${deps.maxPushBytes} bytes (PAASTECH_GIT_MAX_PUSH_BYTES)`;
      // A truncated pack makes git give up by itself and clean its quarantine (a kill may not).
      child.stdin?.end();
    }
    if (!refused && child.stdin?.writable && !child.stdin.write(b)) {
      ch.pause();
      child.stdin.once('drain', () => ch.resume());
    }
  });
  ch.on('end', () => child.stdin?.end());
  child.stdin?.on('error', () => {});
  child.stdout!.pipe(ch, { end: false });
  child.stdout!.on('data', () => {
    lastInput = Date.now();
  });
  child.stderr!.on('data', (b: Buffer) => ch.stderr.write(b));
  // A client that sends nothing while git waits for it is cut off; output (a deploy's lines) counts
  // as activity, and receive-pack holds no timer while the hook runs.
  const idle = setInterval(
    () => {
      if (Date.now() - lastInput > deps.idleTimeoutMs && !deps.pushes.holdingProject(r.projectId)) {
        refused = 'paastech: connection idle for too long';
        child.kill('SIGTERM');
      }
    },
    Math.min(1000, deps.idleTimeoutMs),
  );
  ch.on('close', () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
  });
  child.on('close', (code) => {
    clearInterval(idle);
    finish(ch, refused, refused ? 1 : (code ?? 1));
  });
}
