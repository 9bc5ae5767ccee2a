// Control groups of sandboxed processes, behind one interface for cgroup v1 (one hierarchy per
// controller: memory, pids, cpu, cpuacct — as on these machines) and v2 (one unified hierarchy).
// Invariant: every process Pomegrenade starts lives in a leaf group <root>/<project>/<process>, so
// killing a group kills everything the process forked, and a group's memory/pids/CPU bound holds.
import fs from 'node:fs';
import path from 'node:path';
import type { Limits } from '../domain/model.js';

// A short CFS period: a multi-threaded instance burns its quota in bursts of at most a period's
// worth, so with 100 ms a CPU hog starved its neighbours for tens of milliseconds at a time.
const CPU_PERIOD_US = 10_000;

/** CFS quota (µs per period) of a CPU limit in millicores; the kernel's minimum is 1 ms. */
function cpuQuotaUs(millicores: number): number {
  return Math.max(1000, Math.round((millicores * CPU_PERIOD_US) / 1000));
}

/**
 * Writes the CPU burst (cgroup v1 cpu.cfs_burst_us, v2 cpu.max.burst; Linux 5.14+) when the kernel
 * has it: a group may save its unused quota, up to one period's worth, and spend it above the limit
 * later. A process that starts (Node compiles on several threads at once) or answers a spike after
 * being idle is not throttled in the middle of it; one that is always busy never saves anything, so
 * its long-run share stays the limit. Seen here: a Node server's start in a 1-CPU group was throttled
 * in a third of its periods (~8 ms a start) without it, never with it. The kernel refuses a burst
 * above the quota, hence equal to it.
 */
function writeBurst(file: string, quotaUs: number): void {
  if (fs.existsSync(file)) writeControl(file, String(quotaUs));
}

/** Operations on the leaf groups of one installation. */
export interface Cgroups {
  readonly version: 1 | 2;
  /** Creates the group with its limits; returns the cgroup.procs files a process joins. */
  create(relPath: string, limits: Limits): string[];
  /** Pids currently in the group (empty when it does not exist). */
  pids(relPath: string): number[];
  /** SIGKILLs every process of the group until it is empty, then removes it (and empty parents). */
  destroy(relPath: string): Promise<void>;
  /** True when the kernel OOM-killed a process of the group. */
  oomKilled(relPath: string): boolean;
  usage(relPath: string): { memoryBytes: number; cpuMicros: number };
  /** Relative paths of every group below the root (deepest first). */
  list(): string[];
}

/** Reads a small file, or '' when it does not exist. */
function readOr(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

/** Parses cgroup.procs content. */
function parsePids(text: string): number[] {
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map(Number)
    .filter((n) => Number.isInteger(n) && n > 0);
}

/** Writes a control file, with the file named in the error. */
function writeControl(file: string, value: string): void {
  try {
    fs.writeFileSync(file, value);
  } catch (err) {
    throw new Error(`cannot write "${value}" to ${file}: ${(err as Error).message}`, { cause: err });
  }
}

/** Lists sub-directories of `dir` recursively, deepest first, relative to `base`. */
function listDirs(base: string, rel = ''): string[] {
  const out: string[] = [];
  let entries: fs.Dirent[] = [];
  try {
    entries = fs.readdirSync(path.join(base, rel), { withFileTypes: true });
  } catch {
    return out;
  }
  for (const e of entries) {
    if (!e.isDirectory()) continue;
    const child = rel ? `${rel}/${e.name}` : e.name;
    out.push(...listDirs(base, child), child);
  }
  return out;
}

/**
 * Kills every pid of a group until none is left (a fork may race the first pass). Looks again after
 * 1, 2, 4, 8, 16 ms, then every 20 ms (about 2 s in all): a sandbox that just exited usually still
 * lists its last processes for a moment, and a build waits on this between its steps.
 */
async function killAll(pidsOf: () => number[]): Promise<void> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const pids = pidsOf();
    if (pids.length === 0) return;
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    await new Promise((r) => setTimeout(r, Math.min(20, 2 ** attempt)));
  }
}

/**
 * Removes a group directory and its now-empty parents, up to and including the installation's root
 * group once nothing is left in it: a stopped installation leaves no group behind (each test daemon
 * left an empty root in every hierarchy before). A group being created meanwhile keeps its parents:
 * create() is synchronous, and the kernel refuses to remove a group that has children.
 */
function rmdirUp(roots: string[], relPath: string): void {
  for (const root of roots) {
    let rel = relPath;
    for (;;) {
      try {
        fs.rmdirSync(path.join(root, rel));
      } catch {
        break;
      }
      if (!rel || rel === '.') break;
      rel = path.dirname(rel);
    }
  }
}

/** cgroup v1: a directory per controller hierarchy. */
class CgroupsV1 implements Cgroups {
  readonly version = 1 as const;
  private readonly dirs: Record<'memory' | 'pids' | 'cpu' | 'cpuacct', string>;
  constructor(mount: string, root: string) {
    this.dirs = {
      memory: path.join(mount, 'memory', root),
      pids: path.join(mount, 'pids', root),
      cpu: path.join(mount, 'cpu', root),
      cpuacct: path.join(mount, 'cpuacct', root),
    };
  }
  create(relPath: string, limits: Limits): string[] {
    const files: string[] = [];
    for (const dir of new Set(Object.values(this.dirs))) {
      const group = path.join(dir, relPath);
      fs.mkdirSync(group, { recursive: true });
      files.push(path.join(group, 'cgroup.procs'));
    }
    const m = path.join(this.dirs.memory, relPath);
    writeControl(path.join(m, 'memory.limit_in_bytes'), String(limits.memoryBytes));
    if (fs.existsSync(path.join(m, 'memory.memsw.limit_in_bytes'))) {
      // Without swap accounting the limit could be dodged by swapping; equal limits forbid it.
      try {
        fs.writeFileSync(path.join(m, 'memory.memsw.limit_in_bytes'), String(limits.memoryBytes));
      } catch {
        // swap accounting disabled on this kernel: the memory limit alone applies
      }
    }
    writeControl(path.join(this.dirs.pids, relPath, 'pids.max'), String(limits.maxProcesses));
    const c = path.join(this.dirs.cpu, relPath);
    // A group left by a crash may hold a burst above the new quota, which the quota's write refuses.
    writeBurst(path.join(c, 'cpu.cfs_burst_us'), 0);
    writeControl(path.join(c, 'cpu.cfs_period_us'), String(CPU_PERIOD_US));
    writeControl(path.join(c, 'cpu.cfs_quota_us'), String(cpuQuotaUs(limits.cpuMillicores)));
    writeBurst(path.join(c, 'cpu.cfs_burst_us'), cpuQuotaUs(limits.cpuMillicores));
    return files;
  }
  pids(relPath: string): number[] {
    return [
      ...new Set(
        Object.values(this.dirs).flatMap((d) => parsePids(readOr(path.join(d, relPath, 'cgroup.procs')))),
      ),
    ];
  }
  async destroy(relPath: string): Promise<void> {
    await killAll(() => this.pids(relPath));
    rmdirUp([...new Set(Object.values(this.dirs))], relPath);
  }
  oomKilled(relPath: string): boolean {
    const control = readOr(path.join(this.dirs.memory, relPath, 'memory.oom_control'));
    const kills = /oom_kill (\d+)/.exec(control);
    if (kills) return Number(kills[1]) > 0;
    return Number(readOr(path.join(this.dirs.memory, relPath, 'memory.failcnt')) || 0) > 0;
  }
  usage(relPath: string): { memoryBytes: number; cpuMicros: number } {
    const mem = Number(readOr(path.join(this.dirs.memory, relPath, 'memory.usage_in_bytes')) || 0);
    const ns = Number(readOr(path.join(this.dirs.cpuacct, relPath, 'cpuacct.usage')) || 0);
    return { memoryBytes: mem, cpuMicros: Math.round(ns / 1000) };
  }
  list(): string[] {
    // Every hierarchy: a kill -9 inside create() can leave a group in some of them only.
    const all = [...new Set(Object.values(this.dirs))].map((d) => listDirs(d));
    return [...new Set(all.flat())].sort((a, b) => b.split('/').length - a.split('/').length);
  }
}

/** cgroup v2: one unified hierarchy; controllers enabled down to our leaves. */
class CgroupsV2 implements Cgroups {
  readonly version = 2 as const;
  private readonly base: string;
  constructor(
    private readonly mount: string,
    root: string,
  ) {
    this.base = path.join(mount, root);
  }
  create(relPath: string, limits: Limits): string[] {
    const group = path.join(this.base, relPath);
    fs.mkdirSync(group, { recursive: true });
    // Every ancestor must delegate the controllers to its children.
    let dir = this.mount;
    for (const part of path.relative(this.mount, group).split('/').slice(0, -1)) {
      for (const c of ['+memory', '+pids', '+cpu']) {
        try {
          fs.writeFileSync(path.join(dir, 'cgroup.subtree_control'), c);
        } catch {
          // already enabled, or not delegated to us: the limit writes below say which
        }
      }
      dir = path.join(dir, part);
    }
    for (const c of ['+memory', '+pids', '+cpu']) {
      try {
        fs.writeFileSync(path.join(dir, 'cgroup.subtree_control'), c);
      } catch {
        // see above
      }
    }
    writeControl(path.join(group, 'memory.max'), String(limits.memoryBytes));
    if (fs.existsSync(path.join(group, 'memory.swap.max')))
      writeControl(path.join(group, 'memory.swap.max'), '0');
    writeControl(path.join(group, 'pids.max'), String(limits.maxProcesses));
    writeBurst(path.join(group, 'cpu.max.burst'), 0);
    writeControl(path.join(group, 'cpu.max'), `${cpuQuotaUs(limits.cpuMillicores)} ${CPU_PERIOD_US}`);
    writeBurst(path.join(group, 'cpu.max.burst'), cpuQuotaUs(limits.cpuMillicores));
    return [path.join(group, 'cgroup.procs')];
  }
  pids(relPath: string): number[] {
    return parsePids(readOr(path.join(this.base, relPath, 'cgroup.procs')));
  }
  async destroy(relPath: string): Promise<void> {
    const killFile = path.join(this.base, relPath, 'cgroup.kill');
    if (fs.existsSync(killFile)) {
      try {
        fs.writeFileSync(killFile, '1');
      } catch {
        // fall back to killing pid by pid
      }
    }
    await killAll(() => this.pids(relPath));
    rmdirUp([this.base], relPath);
  }
  oomKilled(relPath: string): boolean {
    const events = readOr(path.join(this.base, relPath, 'memory.events'));
    return Number(/oom_kill (\d+)/.exec(events)?.[1] ?? 0) > 0;
  }
  usage(relPath: string): { memoryBytes: number; cpuMicros: number } {
    const mem = Number(readOr(path.join(this.base, relPath, 'memory.current')) || 0);
    const cpu = Number(/usage_usec (\d+)/.exec(readOr(path.join(this.base, relPath, 'cpu.stat')))?.[1] ?? 0);
    return { memoryBytes: mem, cpuMicros: cpu };
  }
  list(): string[] {
    return listDirs(this.base);
  }
}

/** Detects the cgroup version mounted at `mount`; null when neither is usable. */
export function detectCgroups(root: string, mount = '/sys/fs/cgroup'): Cgroups | null {
  if (fs.existsSync(path.join(mount, 'cgroup.controllers'))) return new CgroupsV2(mount, root);
  const v1 = ['memory', 'pids', 'cpu', 'cpuacct'].every((c) =>
    fs.existsSync(path.join(mount, c, 'cgroup.procs')),
  );
  return v1 ? new CgroupsV1(mount, root) : null;
}
