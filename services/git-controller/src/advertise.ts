// The ref advertisement of a push (`GET …/info/refs?service=git-receive-pack`), written in this
// process instead of by `git receive-pack --stateless-rpc --advertise-refs`: starting git forks
// the whole daemon, which blocks the event loop for milliseconds on every push. Invariant: the
// bytes are exactly git's for the same repository state, or undefined is returned and the caller
// starts git as before. The capabilities are git's own: learnt from one real advertisement per
// repository config (and git PATH) and checked there against what this module would have written.
import fs from 'node:fs';
import path from 'node:path';
import type { GitRuntime } from './git.js';
import { allObjectsExist, listNamedRefs } from './objects.js';

/** Where an advertisement came from: this process, or the git run that taught us its capabilities. */
export interface Advertisement {
  body: Buffer;
  via: 'memory' | 'git';
}

/** Runs the real `git receive-pack --stateless-rpc --advertise-refs` and returns its stdout. */
export type RunAdvertiseRefs = () => Promise<Buffer | undefined>;

/** Capabilities git advertised, by git PATH and the repository's config text. */
const capabilities = new Map<string, string>();
const MAX_CACHED = 64;
/** Config that can hide refs, add config we do not read, or change how refs are stored. */
const ODD_CONFIG = /hiderefs|include|refstorage|worktreeconfig/i;
/** Files that add lines (.have, shallow) or mean refs are not where we read them. */
const ODD_FILES = ['objects/info/alternates', 'shallow', 'reftable', 'commondir'];
/** The longest pkt-line payload git writes. */
const MAX_PKT_PAYLOAD = 65516;

/** Forgets every learnt capability string (tests). */
export function forgetCapabilities(): void {
  capabilities.clear();
}

/**
 * receive-pack's advertisement of `repo` as git writes it with GIT_PROTOCOL=`protocol` (after the
 * HTTP `# service=` preamble, which is the caller's): in-process when the capabilities for this
 * config are known and the repository is in the plain case; from `runGit` the first time a config
 * is seen; undefined when git must be started (the caller streams it as before).
 */
export async function receivePackAdvertisement(
  runtime: GitRuntime,
  repo: string,
  protocol: string | undefined,
  runGit: RunAdvertiseRefs,
): Promise<Advertisement | undefined> {
  const config = readConfig(repo);
  if (config === undefined || ODD_CONFIG.test(config)) return undefined;
  const key = `${runtime.path}\0${config}`;
  const caps = capabilities.get(key);
  if (caps !== undefined) {
    const body = writeAdvertisement(repo, protocol, caps);
    return body && { body, via: 'memory' };
  }
  const body = await runGit();
  if (!body) return undefined;
  const learnt = capabilitiesOf(body, protocol);
  // Kept only when this module writes the very same bytes (a ref that moved meanwhile: next time).
  if (learnt !== undefined && writeAdvertisement(repo, protocol, learnt)?.equals(body)) {
    if (capabilities.size >= MAX_CACHED) capabilities.clear();
    capabilities.set(key, learnt);
  }
  return { body, via: 'git' };
}

/**
 * The version git's determine_protocol_version_server picks from GIT_PROTOCOL: the highest
 * `version=0|1|2` among its colon-separated keys (anything else ignored), 0 when none.
 */
export function protocolVersion(protocol: string | undefined): number {
  let version = 0;
  for (const item of (protocol ?? '').split(':')) {
    const m = /^version=([012])$/.exec(item);
    if (m && Number(m[1]) > version) version = Number(m[1]);
  }
  return version;
}

/**
 * The capabilities after the NUL of the first ref line of a real advertisement; undefined when
 * they change from run to run (a push certificate nonce, a session id) or the output is not the
 * expected shape.
 */
function capabilitiesOf(body: Buffer, protocol: string | undefined): string | undefined {
  let at = 0;
  if (protocolVersion(protocol) === 1) at = pktLine('version 1\n').length;
  const len = Number.parseInt(body.subarray(at, at + 4).toString('latin1'), 16);
  if (!Number.isInteger(len) || len <= 4 || at + len > body.length) return undefined;
  const line = body.subarray(at + 4, at + len).toString('utf8');
  const nul = line.indexOf('\0');
  if (nul < 0 || !line.endsWith('\n')) return undefined;
  const caps = line.slice(nul + 1, -1);
  return /(^| )(push-cert|session-id)=/.test(caps) ? undefined : caps;
}

/** The repository's config text; undefined when it cannot be read. */
function readConfig(repo: string): string | undefined {
  try {
    return fs.readFileSync(path.join(repo, 'config'), 'utf8');
  } catch {
    return undefined;
  }
}

/**
 * The advertisement written here, or undefined when the repository is out of the plain case.
 * Synchronous: a few small files, read faster than the thread pool's round trips.
 */
function writeAdvertisement(repo: string, protocol: string | undefined, caps: string): Buffer | undefined {
  for (const f of ODD_FILES) {
    if (fs.existsSync(path.join(repo, f))) return undefined;
  }
  const format = /(?:^| )object-format=(\S+)/.exec(caps)?.[1];
  const hexLength = format === 'sha1' ? 40 : format === 'sha256' ? 64 : 0;
  if (!hexLength) return undefined;
  const refs = listNamedRefs(repo, hexLength);
  // git skips a ref whose object is missing (with an error on stderr): git should say so itself.
  if (!refs || !allObjectsExist(repo, new Set(refs.map(([, oid]) => oid)))) return undefined;
  const lines: Buffer[] = [];
  if (protocolVersion(protocol) === 1) lines.push(pktLine('version 1\n'));
  if (refs.length === 0) refs.push(['capabilities^{}', '0'.repeat(hexLength)]);
  for (const [i, [name, oid]] of refs.entries()) {
    const line = pktLine(i === 0 ? `${oid} ${name}\0${caps}\n` : `${oid} ${name}\n`);
    if (line.length - 4 > MAX_PKT_PAYLOAD) return undefined;
    lines.push(line);
  }
  lines.push(Buffer.from('0000'));
  return Buffer.concat(lines);
}

/** A pkt-line holding `text`. */
export function pktLine(text: string | Buffer): Buffer {
  const body = Buffer.isBuffer(text) ? text : Buffer.from(text);
  return Buffer.concat([Buffer.from((body.length + 4).toString(16).padStart(4, '0')), body]);
}
