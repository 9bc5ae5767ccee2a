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
  // Synchronous reads: a push of many refs goes to git rather than holding the event loop.
  if (names.length > MAX_REFS_READ) return undefined;
  const refsDir = path.join(repo, 'refs');
  let packed: Map<string, string> | undefined | null = null;
  const values = new Map<string, string>();
  for (const name of names) {
    const file = path.resolve(repo, name);
    if (!name.startsWith('refs/') || !file.startsWith(`${refsDir}${path.sep}`)) return undefined;
    const loose = readOptional(file, MAX_REF_FILE_BYTES);
    if (loose === undefined) return undefined;
    if (loose !== null) {
      const oid = loose.trimEnd();
      if (!OID.test(oid)) return undefined;
      values.set(name, oid);
      continue;
    }
    if (packed === null) packed = readPackedRefs(repo);
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
  if (!OID.test(sha) || hasReplaceRefs(repo)) return undefined;
  for (const dir of objectDirs) {
    const raw = readBounded(path.join(dir, sha.slice(0, 2), sha.slice(2)), MAX_LOOSE_OBJECT_BYTES);
    if (raw === undefined) return undefined;
    if (raw === null) continue;
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

/** Most refs of one push read here (more go to git). */
export const MAX_REFS_READ = 64;
/** Largest loose ref file read here (a ref file is one line). */
const MAX_REF_FILE_BYTES = 4096;
/** Largest compressed loose commit read here (its inflated size is bounded by MAX_COMMIT_BYTES). */
const MAX_LOOSE_OBJECT_BYTES = 1024 * 1024;

/**
 * A file's bytes; null when it does not exist (or a directory is in the way), undefined on other
 * errors and when it is larger than `maxBytes`. Synchronous and bounded: these reads are on every
 * push's way to its deployment, and a small file is read faster than the thread pool's round trip.
 */
function readBounded(file: string, maxBytes: number): Buffer | null | undefined {
  try {
    const size = fs.statSync(file, { throwIfNoEntry: false })?.size;
    if (size === undefined) return null;
    if (size > maxBytes) return undefined;
    return fs.readFileSync(file);
  } catch (err) {
    return missing(err) ? null : undefined;
  }
}

/** readBounded as UTF-8 text. */
function readOptional(file: string, maxBytes: number): string | null | undefined {
  const bytes = readBounded(file, maxBytes);
  return bytes ? bytes.toString('utf8') : bytes;
}

/** True for the errors of a file that is not there (or a directory in the way). */
function missing(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR';
}

/**
 * packed-refs as ref → value, in the file's order (empty when absent); undefined when it cannot be
 * read or is anything but what git writes (see parsePackedRefs).
 */
function readPackedRefs(repo: string): Map<string, string> | undefined {
  const text = readOptional(path.join(repo, 'packed-refs'), MAX_PACKED_REFS_BYTES);
  return text === undefined ? undefined : parsePackedRefs(text ?? '');
}

/**
 * The refs of a packed-refs file's text in its order; undefined unless it is what git writes: a
 * `# pack-refs with:` header on the first line only, `<oid> <ref>` lines, `^<oid>` peel lines
 * after a ref, every line ended, no ref twice.
 */
function parsePackedRefs(text: string): Map<string, string> | undefined {
  const refs = new Map<string, string>();
  if (!text) return refs;
  if (!text.endsWith('\n')) return undefined;
  const lines = text.slice(0, -1).split('\n');
  for (const [i, line] of lines.entries()) {
    if (i === 0 && line.startsWith('# pack-refs with:')) continue;
    if (/^\^([0-9a-f]{40}|[0-9a-f]{64})$/.test(line) && refs.size > 0) continue;
    const m = /^([0-9a-f]{40}|[0-9a-f]{64}) (refs\/\S+)$/.exec(line);
    if (!m || refs.has(m[2]!)) return undefined;
    refs.set(m[2]!, m[1]!);
  }
  return refs;
}

/**
 * True when git's check_refname_format (with REFNAME_ALLOW_ONELEVEL) accepts `name`: no empty
 * component, none starting with "." or ending with ".lock", no "..", "@{", control characters,
 * space, ~ ^ : ? * [ or backslash, not ending with "." or "/", not "@".
 */
export function isValidRefName(name: string): boolean {
  if (name === '@' || name.endsWith('.') || name.includes('..') || name.includes('@{')) return false;
  // biome-ignore lint/suspicious/noControlCharactersInRegex: git refuses these bytes in ref names
  if (/[\x00-\x20\x7f~^:?*[\\\ufffd]/.test(name)) return false;
  return name.split('/').every((c) => c !== '' && !c.startsWith('.') && !c.endsWith('.lock'));
}

/** The most refs listNamedRefs reads (synchronously) before leaving the listing to git. */
const MAX_LISTED_REFS = 2000;
/**
 * The largest packed-refs file read here: about MAX_LISTED_REFS refs at ~110 bytes a line (parsing
 * a larger one only to hand it over to git would hold the event loop for nothing).
 */
const MAX_PACKED_REFS_BYTES = 256 * 1024;

/**
 * Every ref under refs/ as `git for-each-ref` lists them — loose refs over packed ones, sorted by
 * the bytes of their names — with their values; undefined when git must list them: a symbolic
 * ref, a symlink or anything but files and directories under refs/, a value that is not a full
 * object id of `hexLength` digits (or is all zeros), a name git would refuse, a packed-refs file
 * out of order or of another shape (or over 256 KiB), more than 2,000 refs, an unreadable file.
 * Entries git skips (names starting with "." or ending with ".lock") are skipped here too. Whether
 * the objects exist is not checked. Synchronous: a handful of small files, read faster than the
 * thread pool's round trips; bounded so a huge repository does not hold the event loop.
 */
export function listNamedRefs(repo: string, hexLength: number): Array<[string, string]> | undefined {
  const oid = new RegExp(`^[0-9a-f]{${hexLength}}$`);
  const packed = readPackedRefs(repo);
  if (packed === undefined) return undefined;
  let previous: Buffer | undefined;
  for (const [name, value] of packed) {
    const bytes = Buffer.from(name);
    if (previous && Buffer.compare(previous, bytes) >= 0) return undefined;
    if (!isValidRefName(name) || !oid.test(value) || /^0+$/.test(value)) return undefined;
    previous = bytes;
  }
  const refs = new Map(packed);
  let loose = 0;
  const walk = (dir: string, prefix: string): boolean => {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch (err) {
      return prefix === 'refs/' && (err as NodeJS.ErrnoException).code === 'ENOENT';
    }
    for (const e of entries) {
      if (e.name.startsWith('.') || e.name.endsWith('.lock')) continue;
      const name = `${prefix}${e.name}`;
      if (e.isDirectory()) {
        if (!walk(path.join(dir, e.name), `${name}/`)) return false;
        continue;
      }
      if (!e.isFile() || !isValidRefName(name) || ++loose > MAX_LISTED_REFS) return false;
      const text = readOptional(path.join(dir, e.name), MAX_REF_FILE_BYTES);
      const value = text?.trimEnd();
      if (!text?.endsWith('\n') || !value || !oid.test(value) || /^0+$/.test(value)) return false;
      refs.set(name, value);
    }
    return true;
  };
  if (!walk(path.join(repo, 'refs'), 'refs/') || refs.size > MAX_LISTED_REFS) return undefined;
  const sorted = [...refs].map(([name, value]) => ({ name, value, key: Buffer.from(name) }));
  sorted.sort((a, b) => Buffer.compare(a.key, b.key));
  return sorted.map((r) => [r.name, r.value]);
}

/**
 * Which of `oids` exist in the repository's own object store, as git's has_object_file finds
 * them: a loose object file, or an entry in a version-2 pack index whose pack is there. Answers
 * true only when all do; false when one is in neither (no alternates are looked at) or a pack
 * index could not be read as such. Synchronous, like listNamedRefs.
 */
export function allObjectsExist(repo: string, oids: Iterable<string>): boolean {
  const objects = path.join(repo, 'objects');
  let packs: PackIndex[] | undefined;
  try {
    for (const oid of oids) {
      const file = path.join(objects, oid.slice(0, 2), oid.slice(2));
      if (fs.statSync(file, { throwIfNoEntry: false })?.isFile()) continue;
      packs ??= packIndexes(path.join(objects, 'pack'));
      const wanted = Buffer.from(oid, 'hex');
      if (!packs.some((p) => packIndexHas(p, wanted))) return false;
    }
    return true;
  } finally {
    for (const p of packs ?? []) fs.closeSync(p.fd);
  }
}

/** An open version-2 pack index (its fanout table read), closed by allObjectsExist. */
interface PackIndex {
  fd: number;
  fanout: Buffer;
}

/** The version-2 indexes of the packs that are there; one that cannot be read counts as none. */
function packIndexes(packDir: string): PackIndex[] {
  const names = (() => {
    try {
      return fs.readdirSync(packDir);
    } catch {
      return [];
    }
  })();
  const indexes: PackIndex[] = [];
  for (const name of names) {
    if (!name.startsWith('pack-') || !name.endsWith('.idx')) continue;
    if (!fs.existsSync(path.join(packDir, `${name.slice(0, -4)}.pack`))) continue;
    let fd: number | undefined;
    try {
      fd = fs.openSync(path.join(packDir, name), 'r');
      const head = Buffer.alloc(8 + 256 * 4);
      const ok =
        fs.readSync(fd, head, 0, head.length, 0) === head.length &&
        head.readUInt32BE(0) === 0xff744f63 &&
        head.readUInt32BE(4) === 2;
      if (ok) indexes.push({ fd, fanout: head.subarray(8) });
    } catch {
      // A pack index we cannot read proves nothing: the object is then found nowhere, and git asked.
    }
    if (fd !== undefined && indexes.at(-1)?.fd !== fd) fs.closeSync(fd);
  }
  return indexes;
}

/** Whether a version-2 pack index lists `oid`. */
function packIndexHas(index: PackIndex, oid: Buffer): boolean {
  const first = oid[0]!;
  const lo = first === 0 ? 0 : index.fanout.readUInt32BE((first - 1) * 4);
  const hi = index.fanout.readUInt32BE(first * 4);
  if (hi <= lo) return false;
  // A binary search with one object id read per step (~log2 of the pack's objects, small reads):
  // reading the whole section of the first byte cost tens of ms in a pack of millions of objects.
  const size = oid.length;
  const entry = Buffer.alloc(size);
  let a = lo;
  let b = hi;
  try {
    while (a < b) {
      const mid = (a + b) >>> 1;
      if (fs.readSync(index.fd, entry, 0, size, 8 + 256 * 4 + mid * size) !== size) return false;
      const c = Buffer.compare(entry, oid);
      if (c === 0) return true;
      if (c < 0) a = mid + 1;
      else b = mid;
    }
  } catch {
    return false;
  }
  return false;
}

/** hasReplaceRefs's last answers by repository, with the packed-refs file they were read from. */
const replaceRefsSeen = new Map<string, { stamp: string; answer: boolean }>();

/**
 * True when the repository has replace refs (git log would show the replacement commits). The
 * answer from packed-refs is kept while that file is unchanged (same size, time and inode): a push
 * of many refs asks once per ref.
 */
function hasReplaceRefs(repo: string): boolean {
  if (fs.existsSync(path.join(repo, 'refs', 'replace'))) return true;
  const file = path.join(repo, 'packed-refs');
  let stamp = 'absent';
  try {
    const st = fs.statSync(file);
    stamp = `${st.ino}:${st.size}:${st.mtimeMs}`;
  } catch (err) {
    if (!missing(err)) return true;
  }
  const seen = replaceRefsSeen.get(repo);
  if (seen?.stamp === stamp) return seen.answer;
  const packed = readPackedRefs(repo);
  const answer = packed === undefined || [...packed.keys()].some((r) => r.startsWith('refs/replace/'));
  if (replaceRefsSeen.size >= 256) replaceRefsSeen.clear();
  replaceRefsSeen.set(repo, { stamp, answer });
  return answer;
}
