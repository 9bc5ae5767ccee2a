// Reads of a push's refs and new commits done in this process, when the repository keeps them in
// git's plain formats (loose ref files, packed-refs, loose objects). The pre-receive hook waits on
// these reads, and each git process the controller starts costs more than the read. Invariant:
// anything out of the plain case (a symbolic ref, replace refs, a commit in a pack or in another
// encoding, an odd author line) answers undefined, and the caller asks git instead.
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';

/** What RecordPush says about a pushed commit (git log's %s, %an, %ae, %at). */
export interface CommitSummary {
  subject: string;
  authorName: string;
  authorEmail: string;
  authoredAt: number;
}

const OID = /^([0-9a-f]{40}|[0-9a-f]{64})$/;
/** The largest commit object read here; bigger ones (huge signatures, messages) go to git. */
const MAX_COMMIT_BYTES = 256 * 1024;

/** The value of each ref ('' when it does not exist), or undefined when git must read them. */
export async function readRefValues(repo: string, names: string[]): Promise<Map<string, string> | undefined> {
  const refsDir = path.join(repo, 'refs');
  let packed: Map<string, string> | undefined | null = null;
  const values = new Map<string, string>();
  for (const name of names) {
    const file = path.resolve(repo, name);
    if (!name.startsWith('refs/') || !file.startsWith(`${refsDir}${path.sep}`)) return undefined;
    const loose = await readOptional(file);
    if (loose === undefined) return undefined;
    if (loose !== null) {
      const oid = loose.trimEnd();
      if (!OID.test(oid)) return undefined;
      values.set(name, oid);
      continue;
    }
    if (packed === null) packed = await readPackedRefs(repo);
    if (packed === undefined) return undefined;
    values.set(name, packed.get(name) ?? '');
  }
  return values;
}

/** The summary of a loose commit in one of `objectDirs`, or undefined when git must read it. */
export async function readLooseCommit(
  repo: string,
  objectDirs: string[],
  sha: string,
): Promise<CommitSummary | undefined> {
  if (!OID.test(sha) || (await hasReplaceRefs(repo))) return undefined;
  for (const dir of objectDirs) {
    const raw = await fs.promises.readFile(path.join(dir, sha.slice(0, 2), sha.slice(2))).catch(() => null);
    if (!raw) continue;
    let data: Buffer;
    try {
      data = zlib.inflateSync(raw, { maxOutputLength: MAX_COMMIT_BYTES });
    } catch {
      return undefined;
    }
    const nul = data.indexOf(0);
    if (nul < 0 || data.subarray(0, nul).toString('latin1') !== `commit ${data.length - nul - 1}`)
      return undefined;
    return parseCommit(data.subarray(nul + 1).toString('utf8'));
  }
  return undefined;
}

/**
 * Subject and author of a commit object's text, as `git log --format=%s%x00%an%x00%ae%x00%at`
 * prints them; undefined for what only git should interpret (a non-UTF-8 encoding, an author line
 * it would have to repair).
 */
export function parseCommit(text: string): CommitSummary | undefined {
  const end = text.indexOf('\n\n');
  const headers = (end < 0 ? text : text.slice(0, end)).split('\n');
  if (headers.some((h) => /^encoding (?!utf-?8$)/i.test(h))) return undefined;
  const author = headers.find((h) => h.startsWith('author '));
  // git: the name ends at the first "<" (trailing blanks dropped), the e-mail at the next ">".
  const m = author && /^author ([^<\n]*?)[ \t]*<([^>\n]*)> (\d+) [+-]\d{4}$/.exec(author);
  if (!m) return undefined;
  // %s: the first paragraph of the message, its lines joined by spaces (git's blanks: space, tab, CR).
  const blank = (line: string) => /^[ \t\r]*$/.test(line);
  const subject: string[] = [];
  const body = end < 0 ? [] : text.slice(end + 2).split('\n');
  let i = 0;
  while (i < body.length && blank(body[i]!)) i++;
  for (; i < body.length && !blank(body[i]!); i++) subject.push(body[i]!.replace(/[ \t\r]+$/, ''));
  return { subject: subject.join(' '), authorName: m[1]!, authorEmail: m[2]!, authoredAt: Number(m[3]) };
}

/** A file's text; null when it does not exist (or a directory is in the way), undefined on other errors. */
async function readOptional(file: string): Promise<string | null | undefined> {
  try {
    return await fs.promises.readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR' ? null : undefined;
  }
}

/** packed-refs as ref → value (empty when absent); undefined when it cannot be read. */
async function readPackedRefs(repo: string): Promise<Map<string, string> | undefined> {
  const text = await readOptional(path.join(repo, 'packed-refs'));
  if (text === undefined) return undefined;
  const refs = new Map<string, string>();
  for (const line of (text ?? '').split('\n')) {
    if (line === '' || line.startsWith('#') || line.startsWith('^')) continue;
    const m = /^([0-9a-f]{40}|[0-9a-f]{64}) (refs\/\S+)$/.exec(line);
    if (!m) return undefined;
    refs.set(m[2]!, m[1]!);
  }
  return refs;
}

/** True when the repository has replace refs (git log would show the replacement commits). */
async function hasReplaceRefs(repo: string): Promise<boolean> {
  if (fs.existsSync(path.join(repo, 'refs', 'replace'))) return true;
  const packed = await readPackedRefs(repo);
  return packed === undefined || [...packed.keys()].some((r) => r.startsWith('refs/replace/'));
}
