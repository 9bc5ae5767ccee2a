// Per-project disk quota on what builds write: the project's builds (its deployment directories,
// /app of every instance) and its dependency cache (/cache of builds).
//
// Mode "loop" (root with loop devices): each project's builds and cache live on an ext4 image of
// its own, projects/<id>/disk.img (sparse), mounted (loop, nosuid, nodev) at projects/<id>/disk;
// projects/<id>/builds and projects/<id>/cache are symlinks into it, so every path the engine uses
// stays the same. The image is made as large as the operator's bound (the highest disk limit a
// deployment may ask for), and the project's own limit is enforced by a root-owned file at the
// image's root, outside anything a sandbox sees, fallocated to "capacity - limit": a write past the
// limit gets ENOSPC from the kernel. Changing the limit only resizes that file (no resize2fs: online
// resizing needs CAP_SYS_RESOURCE, which containers often drop, and offline resizing needs every
// instance of the project stopped). Unwritten fallocated extents cost the host no space; an image
// costs about 5 MiB of host disk plus what the project really stored.
// One image per project, not per build: the cache and the kept builds share one quota (what the
// project stores), `cp -al` hardlinks between cache and build keep working (one filesystem), and a
// project holds one loop device, not one per kept build.
//
// Mode "watch" (no loop devices: not root, a container without /dev/loop-control): plain
// directories, measured with du once a second while a build runs; the build is stopped once they
// pass the limit (it can overshoot by what it writes in a second).
//
// Invariants: mounts are made under projects/<id>/disk only; shutdown unmounts them all (the data
// dir can be removed after a stop); deleting a project unmounts and removes its image; after a
// crash (mounts outlive a killed process) recover() keeps the mounts of existing projects and
// removes those of projects that no longer exist. Subprocesses get argv arrays only. A build is
// admitted (loop mode) only if the host has free its need plus the remaining claims of the builds
// of other projects running now, its own claim reserved in the same synchronous step and released
// by runBuild whatever the build's end, once what it wrote is on the host (admitBuild, writeBack).
// Adoption of real builds/cache directories (an installation from before the quota) is crash-safe:
// they are copied into the image, the copy is synced and marked complete (ADOPTED, a root-owned file
// at the image's root), and only then replaced by symlinks. An image without the marker holds at
// most a partial copy: the real directories stay, and are copied again; they are never deleted
// before the marker exists (running instances use them as /app).
import fs from 'node:fs';
import path from 'node:path';
import { type Logger, run } from '@paastech/kit';
import { isValidProjectId } from '../domain/model.js';

export type DiskQuotaMode = 'loop' | 'watch';

export interface DiskQuotaOptions {
  /** Pomegrenade's projects directory (StateStore.projectsDir()). */
  projectsDir: string;
  /** The highest disk limit a deployment may ask for (the operator's bound): the size of images. */
  maxBytes: number;
  logger: Logger;
  /** Forces a mode (tests); by default "loop" when a trial mount works, else "watch". */
  mode?: DiskQuotaMode;
}

/** Guards one build: latches once the project's disk was found full. */
export interface DiskWatch {
  /** True once the disk was seen full (loop) or over the limit (watch). */
  readonly exceeded: boolean;
  /** Looks now (statfs in loop mode: cheap); returns `exceeded`. `sawNoSpace`: the build printed
   * ENOSPC, so a larger write may have been refused (a fuller margin counts as full). */
  check(sawNoSpace?: boolean): boolean;
  /** Calls `fn` when the watchdog finds the tree over the limit (watch mode); returns an unsubscribe. */
  onExceeded(fn: () => void): () => void;
  /** At the end of a build: watch mode measures once more (a build quicker than the watchdog);
   * loop mode has nothing to add (the kernel refused every write past the limit). */
  settle(): Promise<boolean>;
  stop(): void;
}

const MiB = 1024 * 1024;
const IMAGE = 'disk.img';
const MOUNT = 'disk';
const RESERVE = '.paastech-reserve';
/** At the image's root once the legacy directories were wholly copied into it (or there were none). */
export const ADOPTED = '.paastech-adopted';
const LINKED = ['builds', 'cache'] as const;
const PROBE_PREFIX = '.disk-probe-';
/** Host room kept beyond what a build may write into its image (ext4's journal and metadata). */
const HOST_SLACK = 16 * MiB;
/** How often a build's disk is looked at (statfs in loop mode, du in watch mode). */
const LOOP_POLL_MS = 250;
const WATCH_POLL_MS = 1000;

/** What a build refused for the host's disk lacks (DiskQuotas.hostShortfall). */
export interface HostShortfall {
  /** Free on the host file system holding the project's image. */
  freeBytes: number;
  /** What this build may write into its image, beyond what the image file holds already, + HOST_SLACK. */
  neededBytes: number;
  /** Builds of other projects running now, and what they may still write on the host together. */
  others: number;
  othersBytes: number;
}

/** A build admitted (release() once it ended, whatever the end) or refused (shortfall). */
export type HostAdmission =
  | { shortfall: HostShortfall; release?: undefined }
  | { shortfall?: undefined; release: () => void };

/** A running build's hold on the host's free space, taken at its admission (loop mode). */
interface HostClaim {
  projectId: string;
  image: string;
  /** Its need at admission: what it could still write on the host, + HOST_SLACK (each image's
   * journal and metadata grow with what is written into it, so every running build keeps its own). */
  bytes: number;
  /** The image's allocated bytes on the host at admission. */
  allocated: number;
}

/** The message of a build refused because the host's disk is too full (DiskQuotas.hostShortfall). */
export function hostFullMessage(s: HostShortfall): string {
  const mib = (n: number) => Math.floor(n / MiB);
  const others =
    s.others === 0
      ? ''
      : `, and ${s.others} other build${s.others === 1 ? '' : 's'} running may still write up to ` +
        `${mib(s.othersBytes)} MiB`;
  const wait = s.others === 0 ? '' : ', or push again once the other builds ended';
  return (
    `the platform's disk is too full to build: ${mib(s.freeBytes)} MiB free, and this build may write up to ` +
    `${mib(s.neededBytes)} MiB (what the project's disk limit still allows)${others}; free space on the host ` +
    `(or lower the project's disk limit) and push again${wait}`
  );
}

/** "disk quota of 32 MiB exceeded: …" — the message of a build that ran out of its quota. */
export function quotaExceededMessage(limitBytes: number, mode: DiskQuotaMode, command?: string): string {
  const mib = Math.round(limitBytes / MiB);
  const tail = "; the project's kept builds and dependency cache count towards it";
  if (!command) return `disk quota of ${mib} MiB exceeded by the build${tail}`;
  const how = mode === 'loop' ? 'got ENOSPC (no space left on device)' : 'was stopped';
  return `disk quota of ${mib} MiB exceeded: build command "${command}" ${how}${tail}`;
}

/** Why per-project images cannot work on this host (cheap checks; a trial mount follows). */
export function loopUnavailableReason(): string | null {
  if (process.getuid?.() !== 0) return 'loop mounts need root';
  if (!fs.existsSync('/dev/loop-control')) return 'no /dev/loop-control (no loop devices here)';
  for (const program of ['mkfs.ext4', 'mount', 'umount', 'fallocate', 'losetup']) {
    if (!['/usr/sbin', '/sbin', '/usr/bin', '/bin'].some((d) => fs.existsSync(path.join(d, program))))
      return `${program} is not installed`;
  }
  return null;
}

/** The per-project disk quotas of one Pomegrenade installation. */
export class DiskQuotas {
  /** The host claims of the builds running now (loop mode; admitBuild to release). */
  private readonly claims = new Set<HostClaim>();

  /** Builds holding a claim on the host's free space now: running, or their writes not yet on the host. */
  get claimsHeld(): number {
    return this.claims.size;
  }

  private constructor(
    /** With projectsDir resolved (the mount table names real paths). */
    private readonly options: DiskQuotaOptions,
    readonly mode: DiskQuotaMode,
    /** Why mode is "watch" (null in loop mode). */
    readonly fallbackReason: string | null,
  ) {}

  /** Picks the mode (a trial mount of a small image decides) and logs it once. */
  static async create(options: DiskQuotaOptions): Promise<DiskQuotas> {
    fs.mkdirSync(options.projectsDir, { recursive: true, mode: 0o700 });
    const resolved = { ...options, projectsDir: fs.realpathSync(options.projectsDir) };
    let mode = options.mode;
    let why: string | null = null;
    if (!mode) {
      why = loopUnavailableReason() ?? (await trialMount(resolved.projectsDir));
      mode = why ? 'watch' : 'loop';
    }
    const q = new DiskQuotas(resolved, mode, why);
    if (mode === 'loop')
      options.logger.info('disk quotas: an ext4 image per project on a loop device (ENOSPC at the limit)');
    else
      options.logger.warn(
        { reason: why },
        'disk quotas: loop devices unavailable; builds are measured every second and stopped over their disk limit (no ENOSPC)',
      );
    return q;
  }

  /** Where a project's disk is (a project id names one directory under projectsDir, no more). */
  paths(projectId: string) {
    if (!isValidProjectId(projectId))
      throw new Error(`disk quota: invalid project id "${projectId.slice(0, 80)}"`);
    const dir = path.join(this.options.projectsDir, projectId);
    return { dir, image: path.join(dir, IMAGE), mount: path.join(dir, MOUNT) };
  }

  /** Makes the project's builds and cache directories ready, under a quota of `limitBytes`. */
  async ensure(projectId: string, limitBytes: number): Promise<void> {
    const { dir, image, mount } = this.paths(projectId);
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    if (this.mode === 'watch') {
      for (const name of LINKED) fs.mkdirSync(path.join(dir, name), { recursive: true, mode: 0o750 });
      return;
    }
    if (!isMountPoint(mount)) {
      if (!fs.existsSync(image)) await makeImage(image, this.imageBytes());
      await mountImage(image, mount);
    }
    await this.adoptOnce(dir, image, mount);
    this.link(dir, mount);
    await this.setReserve(mount, limitBytes);
  }

  /** Watches the project's disk during a build. */
  watch(projectId: string, limitBytes: number): DiskWatch {
    const { dir, mount } = this.paths(projectId);
    const listeners = new Set<() => void>();
    let exceeded = false;
    let measuring = false;
    // Full: less room left than a 1 MiB write needs (ext4 refuses such a write whole when it does
    // not fit), or no inode left; up to 8 MiB left when the build printed ENOSPC.
    const slack = MiB + 64 * 1024;
    const noSpaceSlack = Math.max(slack, Math.min(8 * MiB, Math.floor(limitBytes / 16)));
    const latch = () => {
      if (exceeded) return;
      exceeded = true;
      for (const fn of listeners) fn();
    };
    const checkLoop = (sawNoSpace = false) => {
      try {
        const st = fs.statfsSync(mount);
        if (st.bavail * st.bsize < (sawNoSpace ? noSpaceSlack : slack) || st.ffree < 16) latch();
      } catch {
        // unmounted meanwhile (shutdown)
      }
      return exceeded;
    };
    const measure = async () => {
      if (measuring || exceeded) return;
      measuring = true;
      try {
        if ((await treeBytes(LINKED.map((n) => path.join(dir, n)))) > limitBytes) latch();
      } finally {
        measuring = false;
      }
    };
    const timer =
      this.mode === 'loop'
        ? setInterval(() => checkLoop(), LOOP_POLL_MS)
        : setInterval(() => void measure().catch(() => {}), WATCH_POLL_MS);
    timer.unref();
    return {
      get exceeded() {
        return exceeded;
      },
      check: (sawNoSpace) => (this.mode === 'loop' ? checkLoop(sawNoSpace) : exceeded),
      onExceeded(fn) {
        listeners.add(fn);
        return () => listeners.delete(fn);
      },
      settle: async () => {
        if (this.mode === 'loop') return false;
        if (!exceeded && (await treeBytes(LINKED.map((n) => path.join(dir, n)))) > limitBytes) latch();
        return exceeded;
      },
      stop: () => clearInterval(timer),
    };
  }

  /**
   * Loop mode: whether the host file system holding the project's image has room for what a build
   * may still write into it and for what the builds already running may still write into theirs;
   * undefined when it does (or in watch mode, where a write past the host's room fails at once
   * with ENOSPC). Reserves nothing (admitBuild does). The image is sparse: a write into it takes
   * host space only when the kernel writes the image's pages back, seconds after the build wrote
   * them, so a host that ran full under it is not an ENOSPC to the build but lost writes —
   * "potential data loss" and an aborted journal in the image, and a build that looked whole.
   * Hence the check before a build: the room the image still gives the project (statfs of the
   * mounted image), less what the image file already holds on the host beyond what the image uses
   * (blocks freed inside it stay allocated on the host: rewriting them costs nothing), plus
   * HOST_SLACK for ext4's journal and metadata, plus the remaining claims of the builds of other
   * projects running now (see admitBuild), must be free on the host. Builds of the same project
   * are left out of that sum: this build's need already covers all its image may still take.
   */
  hostShortfall(projectId: string): HostShortfall | undefined {
    if (this.mode !== 'loop') return undefined;
    return this.hostRoom(projectId).shortfall;
  }

  /**
   * Admits a build (hostShortfall) and, in the same synchronous step, reserves its need (what it
   * may still write on the host, + HOST_SLACK): its claim is that less what its image grew on the
   * host since (floored at 0), until release(). Claims are per build, not per project (a second build of a project
   * releases only its own; the engine runs one at a time per project anyway). Watch mode reserves
   * nothing.
   */
  admitBuild(projectId: string): HostAdmission {
    if (this.mode !== 'loop') return { release: () => {} };
    const { shortfall, claim } = this.hostRoom(projectId);
    if (shortfall) return { shortfall };
    this.claims.add(claim);
    return { release: () => void this.claims.delete(claim) };
  }

  /**
   * Loop mode: writes back to the host what was written into the project's image. Until the kernel
   * does so on its own (up to half a minute later) the host's free space does not show it, so a
   * build's claim is released only after this (runBuild, in the background).
   */
  async writeBack(projectId: string): Promise<void> {
    if (this.mode !== 'loop') return;
    await run('sync', ['-f', '--', this.paths(projectId).mount]);
  }

  /** What a build of the project would claim on the host now, and what the host lacks for it. */
  private hostRoom(projectId: string): { claim: HostClaim; shortfall?: HostShortfall } {
    const { dir, image, mount } = this.paths(projectId);
    const inside = fs.statfsSync(mount);
    const allocated = allocatedBytes(image);
    const used = (inside.blocks - inside.bfree) * inside.bsize;
    const mayWrite = inside.bavail * inside.bsize;
    const neededBytes = Math.max(0, mayWrite - Math.max(0, allocated - used)) + HOST_SLACK;
    const claim = { projectId, image, bytes: neededBytes, allocated };
    const host = fs.statfsSync(dir);
    const freeBytes = host.bavail * host.bsize;
    const others = [...this.claims].filter((c) => c.projectId !== projectId);
    const othersBytes = others.reduce((sum, c) => sum + remainingClaim(c), 0);
    if (freeBytes >= neededBytes + othersBytes) return { claim };
    return { claim, shortfall: { freeBytes, neededBytes, others: others.length, othersBytes } };
  }

  /** Removes the project's disk: unmounts it, detaches its loop device, deletes the image. */
  async remove(projectId: string): Promise<void> {
    const { dir, image, mount } = this.paths(projectId);
    if (isMountPoint(mount)) await unmount(mount);
    for (const name of LINKED) {
      const link = path.join(dir, name);
      if (fs.lstatSync(link, { throwIfNoEntry: false })?.isSymbolicLink()) fs.rmSync(link);
    }
    fs.rmSync(image, { force: true });
    if (fs.existsSync(mount) && !isMountPoint(mount)) fs.rmSync(mount, { recursive: true, force: true });
  }

  /** Unmounts every project's disk (shutdown); images stay for the next start. */
  async detachAll(): Promise<void> {
    for (const m of this.mounts()) await unmount(m);
  }

  /**
   * After a restart: removes the disks of projects that no longer exist (no state.json; deleted
   * while the platform crashed) and stale trial mounts, and mounts the disks of the others (after
   * a kill -9 they are still mounted and are kept as they are).
   */
  async recover(): Promise<{ removed: string[]; attached: string[] }> {
    const removed: string[] = [];
    const attached: string[] = [];
    const root = this.options.projectsDir;
    for (const m of this.mounts()) {
      const id = path.basename(path.dirname(m));
      if (id.startsWith(PROBE_PREFIX) || !fs.existsSync(path.join(root, id, 'state.json'))) {
        await unmount(m);
      }
    }
    for (const id of safeReaddir(root)) {
      if (id.startsWith(PROBE_PREFIX)) {
        fs.rmSync(path.join(root, id), { recursive: true, force: true });
        continue;
      }
      if (!isValidProjectId(id)) continue;
      const { dir, image, mount } = this.paths(id);
      if (!fs.existsSync(image)) continue;
      if (!fs.existsSync(path.join(dir, 'state.json'))) {
        await this.remove(id);
        removed.push(id);
      } else if (this.mode === 'loop') {
        const mountedNow = !isMountPoint(mount);
        if (mountedNow) await mountImage(image, mount);
        try {
          await this.adoptOnce(dir, image, mount);
        } catch (err) {
          // The real directories stay in use; the project's next build tries the copy again.
          this.options.logger.error(
            { projectId: id, err: (err as Error).message },
            'copying the builds and cache of this project into its disk image failed: they stay where they are',
          );
          continue;
        }
        if (mountedNow) attached.push(id);
        this.link(dir, mount);
      } else {
        this.options.logger.error(
          { projectId: id },
          'this project has a disk image but loop devices are unavailable now: its builds are not reachable',
        );
      }
    }
    if (removed.length > 0 || attached.length > 0)
      this.options.logger.info({ removed, attached }, 'disk quotas recovered');
    return { removed, attached };
  }

  /** Mount points of this installation's project disks (from the mount table). */
  mounts(): string[] {
    const prefix = `${this.options.projectsDir}${path.sep}`;
    return mountPoints().filter(
      (m) =>
        m.startsWith(prefix) &&
        path.basename(m) === MOUNT &&
        path.dirname(path.dirname(m)) === this.options.projectsDir,
    );
  }

  /** Size of a new image: the operator's bound plus room for ext4's own metadata. */
  private imageBytes(): number {
    const raw = Math.ceil(this.options.maxBytes * 1.06) + 64 * MiB;
    return Math.ceil(raw / MiB) * MiB;
  }

  /** Sizes the reserve file so that the project can store `limitBytes` and no more. */
  private async setReserve(mount: string, limitBytes: number): Promise<void> {
    const file = path.join(mount, RESERVE);
    const st = fs.statfsSync(mount);
    // What a process without CAP_SYS_RESOURCE can use: ext4 keeps up to 2% (at most 16 MiB) for
    // itself (reserved clusters), which bavail leaves out and blocks does not.
    const capacity = (st.bavail + st.blocks - st.bfree) * st.bsize;
    const want = Math.max(0, Math.floor((capacity - limitBytes) / st.bsize) * st.bsize);
    const have = reserveBytes(mount);
    if (capacity < limitBytes)
      this.options.logger.warn(
        { mount, capacity, limitBytes },
        'disk limit above the image size (the operator bound was raised): the image holds what it can',
      );
    if (want === have) return;
    if (want < have || want === 0) {
      fs.truncateSync(file, want);
    } else {
      // Lowered below what the project stores: reserve what is free (a little kept for the extent
      // tree of the reserve itself); the disk is full until the project frees space.
      for (const margin of [64 * 1024, 4 * MiB]) {
        const free = Math.max(0, st.bavail * st.bsize - margin);
        const target = Math.min(want, have + Math.floor(free / st.bsize) * st.bsize);
        if (target <= have) break;
        try {
          await run('fallocate', ['-l', String(target), '--', file]);
          break;
        } catch (err) {
          if (margin > 64 * 1024) throw err;
        }
      }
    }
    if (fs.existsSync(file)) fs.chmodSync(file, 0o600);
  }

  /** builds and cache: symlinks into the mounted image (real directories only once adopted). */
  private link(dir: string, mount: string): void {
    if (!fs.existsSync(path.join(mount, ADOPTED)))
      throw new Error(`disk quota: "${mount}" is not marked as holding the project's builds and cache`);
    for (const name of LINKED) {
      fs.mkdirSync(path.join(mount, name), { recursive: true, mode: 0o750 });
      const link = path.join(dir, name);
      const st = fs.lstatSync(link, { throwIfNoEntry: false });
      if (st?.isSymbolicLink()) continue;
      if (st) fs.rmSync(link, { recursive: true, force: true });
      fs.symlinkSync(path.join(MOUNT, name), link);
    }
  }

  /** Copies real builds/cache directories into the mounted image unless the marker says it was
   * done; on failure the directories stay, the image is unmounted (and deleted if nothing lives
   * only there). */
  private async adoptOnce(dir: string, image: string, mount: string): Promise<void> {
    if (fs.existsSync(path.join(mount, ADOPTED))) return;
    try {
      await adoptLegacyDirs(dir, mount);
    } catch (err) {
      await unmount(mount);
      const linked = LINKED.some((n) =>
        fs.lstatSync(path.join(dir, n), { throwIfNoEntry: false })?.isSymbolicLink(),
      );
      if (!linked) fs.rmSync(image, { force: true });
      throw err;
    }
  }
}

/** Copies the real builds and cache directories into the image (replacing a partial copy an
 * interrupted adoption left), syncs it and writes the marker; the originals are left to link(). */
async function adoptLegacyDirs(dir: string, mount: string): Promise<void> {
  const legacy = LINKED.filter((name) =>
    fs.lstatSync(path.join(dir, name), { throwIfNoEntry: false })?.isDirectory(),
  );
  for (const name of legacy) {
    fs.rmSync(path.join(mount, name), { recursive: true, force: true });
    fs.mkdirSync(path.join(mount, name), { recursive: true, mode: 0o750 });
    await run('cp', ['-a', '--', `${path.join(dir, name)}/.`, path.join(mount, name)]);
  }
  // The copy reaches the image before the marker does (a crash of the host, not only ours).
  await run('sync', ['-f', '--', mount]);
  const fd = fs.openSync(path.join(mount, ADOPTED), 'w', 0o600);
  try {
    fs.fchownSync(fd, 0, 0);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** Creates a sparse image and an ext4 filesystem on it (fresh sparse file: lazy init is safe).
 * Exported for tests that recreate what a crash leaves. */
export async function makeImage(image: string, bytes: number): Promise<void> {
  const tmp = `${image}.tmp`;
  fs.rmSync(tmp, { force: true });
  const fd = fs.openSync(tmp, 'w', 0o600);
  fs.ftruncateSync(fd, bytes);
  fs.closeSync(fd);
  await run('mkfs.ext4', [
    '-q',
    '-F',
    '-m',
    '0',
    '-E',
    'nodiscard,lazy_itable_init=1,lazy_journal_init=1',
    tmp,
  ]);
  fs.renameSync(tmp, image);
}

/** Mounts an image (the loop device is freed by the kernel on its last unmount: autoclear). */
export async function mountImage(image: string, mount: string): Promise<void> {
  fs.mkdirSync(mount, { recursive: true, mode: 0o755 });
  // nodev/nosuid: a device node or setuid file a build creates means nothing; noinit_itable: the
  // inode tables of a fresh sparse file are zeros already (no background writes on the host).
  await run('mount', ['-t', 'ext4', '-o', 'loop,nosuid,nodev,noinit_itable', '--', image, mount]);
  fs.chmodSync(mount, 0o755);
}

/** Unmounts; a mount still busy on the host (a `du` of ours) is detached lazily. */
async function unmount(mount: string): Promise<void> {
  try {
    await run('umount', ['--', mount]);
  } catch {
    if (isMountPoint(mount)) await run('umount', ['-l', '--', mount]);
  }
}

/** Tries a loop mount of a tiny image; null when it works, else why not. */
async function trialMount(projectsDir: string): Promise<string | null> {
  const dir = path.join(projectsDir, `${PROBE_PREFIX}${process.pid}`);
  const image = path.join(dir, IMAGE);
  const mount = path.join(dir, MOUNT);
  try {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    await makeImage(image, 8 * MiB);
    await mountImage(image, mount);
    await unmount(mount);
    return null;
  } catch (err) {
    return `trial loop mount failed: ${(err as Error).message.split('\n')[0]}`;
  } finally {
    if (isMountPoint(mount)) await unmount(mount).catch(() => {});
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Bytes taken by the directory trees (blocks, hardlinks counted once), via du. */
async function treeBytes(dirs: string[]): Promise<number> {
  const present = dirs.filter((d) => fs.existsSync(d));
  if (present.length === 0) return 0;
  const { stdout } = await run('du', ['-s', '-c', '-B1', '-x', '--', ...present]);
  const total = stdout.trim().split('\n').pop() ?? '';
  return Number(total.split('\t')[0]) || 0;
}

/** Bytes the file takes on its file system (a sparse image: what was written back to it). */
function allocatedBytes(file: string): number {
  return (fs.statSync(file, { throwIfNoEntry: false })?.blocks ?? 0) * 512;
}

/** What a running build may still write on the host: its claim less what its image grew since. */
function remainingClaim(c: HostClaim): number {
  return Math.max(0, c.bytes - Math.max(0, allocatedBytes(c.image) - c.allocated));
}

/** Bytes of the reserve file. */
function reserveBytes(mount: string): number {
  return fs.statSync(path.join(mount, RESERVE), { throwIfNoEntry: false })?.size ?? 0;
}

/** Mount points of this mount namespace (octal escapes of mountinfo decoded). */
export function mountPoints(): string[] {
  try {
    return mountPointsOf(fs.readFileSync('/proc/self/mountinfo', 'utf8'));
  } catch {
    return [];
  }
}

/** The mount points (5th field) of mountinfo text, in its order, octal escapes (\040) decoded. */
export function mountPointsOf(mountinfo: string): string[] {
  return mountinfo
    .split('\n')
    .map((line) =>
      (line.split(' ')[4] ?? '').replace(/\\([0-7]{3})/g, (_, o) =>
        String.fromCharCode(Number.parseInt(o, 8)),
      ),
    )
    .filter(Boolean);
}

/** True when `dir` is a mount point of this namespace. */
function isMountPoint(dir: string): boolean {
  return mountPoints().includes(dir);
}

/** Loop devices whose backing file lies under `dir` (for leak checks). */
export function loopDevicesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const name of safeReaddir('/sys/block')) {
    if (!name.startsWith('loop')) continue;
    try {
      const file = fs.readFileSync(`/sys/block/${name}/loop/backing_file`, 'utf8').trim();
      if (file.startsWith(`${dir}${path.sep}`)) out.push(`/dev/${name}: ${file}`);
    } catch {
      // not attached
    }
  }
  return out;
}

/** Directory entries, or none. */
function safeReaddir(dir: string): string[] {
  try {
    return fs.readdirSync(dir);
  } catch {
    return [];
  }
}
