// The base image every application image starts FROM: Debian minbase (debootstrap, from the
// host's own suite so builds made on the host — venvs, native npm modules — run unchanged), plus
// python3 and ca-certificates from the mirror, plus the host's node binary and npm. No public
// registry is needed. Invariant: the image's tag is a hash of everything that goes into it, and the
// root filesystem tar is cached under that hash, so it is built once per recipe per machine and a
// fresh daemon (a test's) only pays a `docker import`. A builder's directory is deleted only once
// nothing is mounted under it (a killed debootstrap leaves /proc, /sys, /dev… mounted in the rootfs;
// a recursive delete as root would walk into them).
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { run } from '@paastech/kit';
import { mountPointsOf } from '../../isolation/disk-quota.js';
import type { DockerClient } from './docker.js';

/** Bump when the recipe below changes in a way the hash inputs do not see. */
const RECIPE_VERSION = '1';
export const BASE_IMAGE_REPO = 'paastech/base';
/** Debian packages on top of minbase: what the builders' artifacts need to run. */
export const BASE_PACKAGES = ['python3', 'ca-certificates'];
const NODE_BINARY = process.execPath;
/** npm as installed beside this node (Debian and the official tarballs: <prefix>/lib/node_modules/npm). */
const NPM_DIR = path.resolve(path.dirname(NODE_BINARY), '../lib/node_modules/npm');

export interface BaseImageOptions {
  /** Directory holding the cached root filesystems (`base-<hash>.tar`). */
  cacheDir: string;
  /** Debian mirror for debootstrap. */
  mirror?: string;
  /** Progress lines (the first build takes a couple of minutes). */
  onLine?: (text: string) => void;
}

export interface BaseRecipe {
  suite: string;
  mirror: string;
  packages: string[];
  nodeVersion: string;
  nodeSha256: string;
  npmVersion: string;
}

/** The content hash naming a base image (pure): any change of an input makes a new image. */
export function baseImageKey(r: BaseRecipe): string {
  const text = JSON.stringify([
    RECIPE_VERSION,
    r.suite,
    r.mirror,
    [...r.packages].sort(),
    r.nodeVersion,
    r.nodeSha256,
    r.npmVersion,
  ]);
  return createHash('sha256').update(text).digest('hex').slice(0, 16);
}

/** The Debian suite of the host from /etc/os-release (VERSION_CODENAME), e.g. "bookworm". */
export function hostSuite(osRelease = fs.readFileSync('/etc/os-release', 'utf8')): string {
  const m = /^VERSION_CODENAME="?([a-z]+)"?$/m.exec(osRelease);
  if (!m) throw new Error('base image: /etc/os-release names no VERSION_CODENAME (a Debian host is needed)');
  return m[1]!;
}

let nodeHash: Promise<string> | null = null;

/** The recipe of this host's base image (hashes the node binary once per process). */
export async function hostRecipe(mirror = 'http://deb.debian.org/debian'): Promise<BaseRecipe> {
  nodeHash ??= new Promise((resolve, reject) => {
    const h = createHash('sha256');
    fs.createReadStream(NODE_BINARY)
      .on('data', (c) => h.update(c))
      .on('end', () => resolve(h.digest('hex')))
      .on('error', reject);
  });
  const npm = JSON.parse(fs.readFileSync(path.join(NPM_DIR, 'package.json'), 'utf8')) as { version: string };
  return {
    suite: hostSuite(),
    mirror,
    packages: BASE_PACKAGES,
    nodeVersion: process.version,
    nodeSha256: await nodeHash,
    npmVersion: npm.version,
  };
}

const inFlight = new Map<string, Promise<string>>();

/**
 * Makes sure the daemon has the base image and returns its tag (`paastech/base:<hash>`, also tagged
 * `paastech/base:latest` for Dockerfiles): present → nothing; cached tar → import; else build.
 */
export function ensureBaseImage(docker: DockerClient, o: BaseImageOptions): Promise<string> {
  const key = `${docker.socketPath}\0${o.cacheDir}`;
  let p = inFlight.get(key);
  if (!p) {
    p = ensure(docker, o).finally(() => inFlight.delete(key));
    inFlight.set(key, p);
  }
  return p;
}

async function ensure(docker: DockerClient, o: BaseImageOptions): Promise<string> {
  const say = o.onLine ?? (() => {});
  const recipe = await hostRecipe(o.mirror);
  const hash = baseImageKey(recipe);
  const tag = `${BASE_IMAGE_REPO}:${hash}`;
  if (!(await docker.inspectImage(tag))) {
    const tarFile = await cachedRootfs(recipe, hash, o.cacheDir, say);
    say(`importing base image ${tag}`);
    await docker.importImage(fs.createReadStream(tarFile), BASE_IMAGE_REPO, hash, [
      'ENV PATH=/usr/local/bin:/usr/bin:/bin',
      'ENV LANG=C.UTF-8',
      'WORKDIR /app',
      'CMD ["/bin/sh"]',
    ]);
  }
  await docker.tagImage(tag, BASE_IMAGE_REPO, 'latest');
  return tag;
}

/** The cached root filesystem tar of `hash`, built when missing (one builder at a time per cache). */
async function cachedRootfs(
  recipe: BaseRecipe,
  hash: string,
  cacheDir: string,
  say: (t: string) => void,
): Promise<string> {
  fs.mkdirSync(cacheDir, { recursive: true, mode: 0o700 });
  const tarFile = path.join(cacheDir, `base-${hash}.tar`);
  const lock = path.join(cacheDir, `base-${hash}.lock`);
  for (;;) {
    if (fs.existsSync(tarFile)) return tarFile;
    try {
      fs.mkdirSync(lock);
      break;
    } catch {
      // Another process builds it; a lock older than 30 minutes is a crashed builder's.
      const age = Date.now() - (fs.statSync(lock, { throwIfNoEntry: false })?.mtimeMs ?? Date.now());
      if (age > 30 * 60_000) await removeTree(lock);
      else await new Promise((r) => setTimeout(r, 2000));
    }
  }
  try {
    if (fs.existsSync(tarFile)) return tarFile;
    const rootfs = path.join(lock, 'rootfs');
    say(`building base image ${hash}: debootstrap ${recipe.suite} (minbase + ${recipe.packages.join(', ')})`);
    await run(
      'debootstrap',
      ['--variant=minbase', `--include=${recipe.packages.join(',')}`, recipe.suite, rootfs, recipe.mirror],
      { timeout: 20 * 60_000 },
    );
    say('adding the host node binary and npm');
    await addNode(rootfs);
    for (const junk of ['var/cache/apt/archives', 'var/lib/apt/lists', 'usr/share/doc', 'usr/share/man']) {
      fs.rmSync(path.join(rootfs, junk), { recursive: true, force: true });
      fs.mkdirSync(path.join(rootfs, junk), { recursive: true });
    }
    const partial = `${tarFile}.partial`;
    await run('tar', ['-c', '--numeric-owner', '-f', partial, '-C', rootfs, '.']);
    fs.renameSync(partial, tarFile);
    return tarFile;
  } finally {
    await removeTree(lock);
  }
}

/** Mount points at or under `dir` (a real path) in mountinfo text, deepest first (pure). */
export function mountsUnder(mountinfo: string, dir: string): string[] {
  const root = path.resolve(dir);
  const inside = mountPointsOf(mountinfo).filter(
    (m) => m === root || m.startsWith(root === '/' ? '/' : `${root}/`),
  );
  // Later mounts first (stacked on the same point, or on a parent), then the deeper ones first.
  const depth = (m: string) => m.split('/').length;
  return inside.reverse().sort((a, b) => depth(b) - depth(a));
}

/** Deletes `dir` after unmounting (lazily, deepest first) whatever is mounted under it; refuses to
 * delete while a mount remains. */
export async function removeTree(dir: string): Promise<void> {
  if (!fs.existsSync(dir)) return;
  const real = fs.realpathSync(dir);
  const mountinfo = () => fs.readFileSync('/proc/self/mountinfo', 'utf8');
  const failures: string[] = [];
  for (const m of mountsUnder(mountinfo(), real)) {
    await run('umount', ['-l', '--', m]).catch((err: Error) => failures.push(err.message.split('\n')[0]!));
  }
  const left = mountsUnder(mountinfo(), real);
  if (left.length > 0)
    throw new Error(
      `base image: not deleting "${dir}": still mounted under it: ${left.join(', ')} (${failures.join('; ')})`,
    );
  fs.rmSync(dir, { recursive: true, force: true });
}

/** Copies node to /usr/bin/node and npm to /usr/lib/node_modules/npm with its npm/npx links. */
async function addNode(rootfs: string): Promise<void> {
  fs.copyFileSync(NODE_BINARY, path.join(rootfs, 'usr/bin/node'));
  fs.chmodSync(path.join(rootfs, 'usr/bin/node'), 0o755);
  const target = path.join(rootfs, 'usr/lib/node_modules');
  fs.mkdirSync(target, { recursive: true });
  await run('cp', ['-a', '--', NPM_DIR, target]);
  for (const [link, to] of [
    ['npm', '../lib/node_modules/npm/bin/npm-cli.js'],
    ['npx', '../lib/node_modules/npm/bin/npx-cli.js'],
  ] as const) {
    fs.rmSync(path.join(rootfs, 'usr/bin', link), { force: true });
    fs.symlinkSync(to, path.join(rootfs, 'usr/bin', link));
  }
}
