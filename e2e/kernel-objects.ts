// The kernel objects one paastechd installation (one data dir) holds on this host, read from the
// kernel itself: its control groups, its projects' network namespaces, host veth ends, nftables
// tables and slot reservations, its project disks' mounts and loop devices. Other installations
// (parallel test daemons) share the host: everything here is scoped to the data dir by the names
// the platform derives from it (services/pomegrenade/src/runtime/local-runtime.ts: the tag is
// "paastech-" + sha256(<data dir>/pomegrenade)[0..10], the cgroup root is named after it;
// isolation/addresses.ts: a project's network objects are named after sha256(tag \0 project id);
// isolation/network.ts: reservations are files naming the tag; isolation/disk-quota.ts: disks are
// mounted at <data dir>/pomegrenade/projects/<id>/disk).
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

const CGROUP_MOUNT = '/sys/fs/cgroup';
const V1_HIERARCHIES = ['memory', 'pids', 'cpu', 'cpuacct'];
const NETNS_DIR = '/run/netns';
const RESERVATIONS_DIR = '/run/paastech/net-slots';

/** The installation tag of a data dir (names its cgroup root and, hashed with a project id, its networks). */
export function installationTag(dataDir: string): string {
  const stateDir = path.join(path.resolve(dataDir), 'pomegrenade');
  return `paastech-${createHash('sha256').update(stateDir).digest('hex').slice(0, 10)}`;
}

/** The network object names of a project of the installation tagged `tag`. */
export function networkNames(tag: string, projectId: string) {
  const h = createHash('sha256').update(`${tag}\0${projectId}`).digest('hex').slice(0, 10);
  return { netns: `pt-${h}`, hostIf: `pt-${h}`, table: `pt_${h}` };
}

export interface KernelObjects {
  /** The cgroup hierarchies in use: "unified" (v2) or the v1 controllers. */
  hierarchies: string[];
  /** Groups under the installation's root, relative to it ("" is the root itself), with their hierarchies. */
  cgroups: Map<string, string[]>;
  /** Project id → its network objects present on the host ("netns", "veth", "nft table", "reservation"). */
  networks: Map<string, string[]>;
  /** Mount points under the data dir. */
  mounts: string[];
  /** Backing files (under the data dir) of attached loop devices. */
  loops: string[];
}

/** Sub-directories of `dir`, recursively, relative to it. */
function dirsBelow(dir: string, rel = ''): string[] {
  let entries: fs.Dirent[] = [];
  try {
    entries = fs.readdirSync(path.join(dir, rel), { withFileTypes: true });
  } catch {
    return [];
  }
  return entries
    .filter((e) => e.isDirectory())
    .flatMap((e) => {
      const child = rel ? `${rel}/${e.name}` : e.name;
      return [child, ...dirsBelow(dir, child)];
    });
}

function readdirOr(dir: string): string[] {
  try {
    return fs.readdirSync(dir);
  } catch {
    return [];
  }
}

/** Reservation files of the installation: project id of each. */
function reservationsOf(tag: string): string[] {
  return readdirOr(RESERVATIONS_DIR).flatMap((f) => {
    try {
      const r = JSON.parse(fs.readFileSync(path.join(RESERVATIONS_DIR, f), 'utf8'));
      return r.tag === tag ? [String(r.projectId)] : [];
    } catch {
      return []; // removed while reading, or being written
    }
  });
}

/** Names of the inet nftables tables on the host. */
function nftTables(): Set<string> {
  const out = execFileSync('nft', ['list', 'tables'], { stdio: 'pipe' }).toString();
  return new Set([...out.matchAll(/^table inet (\S+)$/gm)].map((m) => m[1]!));
}

/** Mount points of this mount namespace (mountinfo's octal escapes decoded). */
function mountPoints(): string[] {
  return fs
    .readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) =>
      (l.split(' ')[4] ?? '').replace(/\\([0-7]{3})/g, (_, o) => String.fromCharCode(parseInt(o, 8))),
    )
    .filter(Boolean);
}

/**
 * What the installation of `dataDir` holds in the kernel now. Projects are those with a directory in
 * the data dir, a reservation, a cgroup or an id in `knownIds` (a network of a project nobody knows
 * any more cannot be told apart from another installation's: its name is a hash).
 */
export function kernelObjects(dataDir: string, knownIds: Iterable<string> = []): KernelObjects {
  const tag = installationTag(dataDir);
  const v2 = fs.existsSync(path.join(CGROUP_MOUNT, 'cgroup.controllers'));
  const hierarchies = v2 ? ['unified'] : V1_HIERARCHIES;
  const cgroups = new Map<string, string[]>();
  for (const h of hierarchies) {
    const root = v2 ? path.join(CGROUP_MOUNT, tag) : path.join(CGROUP_MOUNT, h, tag);
    if (!fs.existsSync(root)) continue;
    for (const rel of ['', ...dirsBelow(root)]) cgroups.set(rel, [...(cgroups.get(rel) ?? []), h]);
  }
  const real = fs.realpathSync(dataDir);
  const projectsDir = path.join(real, 'pomegrenade', 'projects');
  const reserved = reservationsOf(tag);
  const ids = new Set([
    ...knownIds,
    ...readdirOr(projectsDir),
    ...reserved,
    ...[...cgroups.keys()].filter((k) => k && !k.includes('/')),
  ]);
  const tables = nftTables();
  const namespaces = new Set(readdirOr(NETNS_DIR));
  const networks = new Map<string, string[]>();
  for (const id of [...ids].sort()) {
    const n = networkNames(tag, id);
    const present = [
      ...(namespaces.has(n.netns) ? ['netns'] : []),
      ...(fs.existsSync(path.join('/sys/class/net', n.hostIf)) ? ['veth'] : []),
      ...(tables.has(n.table) ? ['nft table'] : []),
      ...reserved.filter((r) => r === id).map(() => 'reservation'),
    ];
    if (present.length > 0) networks.set(id, present);
  }
  const mounts = mountPoints().filter((m) => m === real || m.startsWith(`${real}/`));
  const loops = readdirOr('/sys/block')
    .filter((b) => b.startsWith('loop'))
    .flatMap((b) => {
      try {
        return [fs.readFileSync(`/sys/block/${b}/loop/backing_file`, 'utf8').trim()];
      } catch {
        return []; // not attached
      }
    })
    .filter((f) => f.startsWith(`${real}/`));
  return { hierarchies, cgroups, networks, mounts: mounts.sort(), loops: loops.sort() };
}

/** A running instance, as the API reports it. */
export interface RunningInstance {
  project: string;
  deployment: number;
  /** e.g. "web.1" */
  name: string;
}

/** A cgroup's owner in words: "<project>", "<project>/v2 web.1", "<project>/v3 build", or as found. */
function groupOwner(rel: string, names: Map<string, string>): string {
  if (rel === '') return '(installation root)';
  const [id = '', leaf, ...rest] = rel.split('/');
  const project = names.get(id) ?? `unknown project ${id}`;
  if (leaf === undefined) return project;
  if (rest.length > 0) return `${project}/${leaf}/${rest.join('/')}`;
  const instance = /^v(\d+)-(.+)-(\d+)-[0-9a-z]+$/.exec(leaf);
  if (instance) return `${project}/v${instance[1]} ${instance[2]}.${instance[3]}`;
  const other = /^(build|release)-v(\d+)-[0-9a-z]+$/.exec(leaf);
  if (other) return `${project}/v${other[2]} ${other[1]}`;
  return `${project}/${leaf}`;
}

/** The objects in words, comparable with `expectedObjects` (project names instead of ids). */
export function describeObjects(o: KernelObjects, names: Map<string, string>, dataDir: string) {
  const projectsDir = path.join(fs.realpathSync(dataDir), 'pomegrenade', 'projects');
  const byName = (id: string) => names.get(id) ?? `unknown project ${id}`;
  const cgroups: Record<string, string[]> = {};
  for (const [rel, hs] of o.cgroups) {
    const owner = groupOwner(rel, names);
    cgroups[owner] = [...(cgroups[owner] ?? []), ...hs].sort();
  }
  const networks = Object.fromEntries([...o.networks].map(([id, objs]) => [byName(id), objs]));
  const disk = (file: string, leaf: string) => {
    const rel = path.relative(projectsDir, file).split('/');
    return rel.length === 2 && rel[1] === leaf ? byName(rel[0]!) : file;
  };
  return {
    cgroups,
    networks,
    mounts: o.mounts.map((m) => disk(m, 'disk')).sort(),
    loops: o.loops.map((f) => disk(f, 'disk.img')).sort(),
  };
}

/**
 * What the installation must hold, in the words of `describeObjects`: a group per running instance
 * (and its project's and the root's), a whole network per project with running instances, and a
 * mounted disk (one loop device) per project in `disks`.
 */
export function expectedObjects(hierarchies: string[], running: RunningInstance[], disks: string[]) {
  const all = [...hierarchies].sort();
  const cgroups: Record<string, string[]> = {};
  if (running.length > 0) cgroups['(installation root)'] = all;
  for (const r of running) {
    cgroups[r.project] = all;
    cgroups[`${r.project}/v${r.deployment} ${r.name}`] = all;
  }
  const networks = Object.fromEntries(
    [...new Set(running.map((r) => r.project))].map((p) => [
      p,
      ['netns', 'veth', 'nft table', 'reservation'],
    ]),
  );
  const sorted = [...new Set(disks)].sort();
  return { cgroups, networks, mounts: sorted, loops: sorted };
}
