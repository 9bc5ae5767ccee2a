// LocalRuntime: sandboxed processes on this machine. Each process runs under bubblewrap (own
// pid/ipc/uts namespaces, read-only system dirs, private /tmp, only its app dir and declared binds
// visible, nothing of the data dir), as its project's uid/gid dropped with setpriv, inside its own
// leaf cgroup with memory, pids and CPU limits. With sandbox "none" processes run unconfined (for
// hosts without bubblewrap; the engine warns on every deployment). With a network (the default),
// each project's processes run in its own network namespace (isolation/network.ts) and the router
// reaches web instances at the namespace's address; every process gets the seccomp filter
// (isolation/seccomp.ts) and its environment through a file (isolation/env-file.ts), so the root
// processes that build the sandbox never see a variable the project chose.
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Readable, Writable } from 'node:stream';
import type { Logger } from '@paastech/kit';
import type {
  ExitInfo,
  PreparedProcess,
  PreparedSpec,
  ProcessSpec,
  RunningProcess,
  Runtime,
} from '../domain/ports.js';
import {
  ARGV_END_VARIABLE,
  ARGV_VARIABLE,
  envFileText,
  OUTER_ENV,
  preparedEnvFileText,
} from '../isolation/env-file.js';
import { BASH, BASH_FLAGS, CLOSE_FDS_LOOP } from '../isolation/fds.js';
import { tmpSizeBytes } from '../isolation/limits.js';
import { ProjectNetworks } from '../isolation/network.js';
import { seccompProgram } from '../isolation/seccomp.js';
import { type Cgroups, detectCgroups } from './cgroups.js';
import { feedStdin, forEachLine, stdinOf } from './lines.js';
import { freePort, listeningSockets } from './net.js';
import { bwrapArgs, ETC_FILES, type HostLayout, JOIN_CGROUPS_LOOP } from './sandbox.js';

export interface LocalRuntimeOptions {
  sandbox: 'bwrap' | 'none';
  /** Pomegrenade's own directory under the data dir (names this installation's cgroup root). */
  stateDir: string;
  logger: Logger;
  /** A network namespace per project (default), or null: processes share the host's network. */
  network?: { range: string; egress: boolean } | null;
}

/** The instance network when the options name none. */
export const DEFAULT_INSTANCE_NETWORK = { range: '10.213.0.0/16', egress: true };

/** fds of the seccomp program and the environment file in bwrap (after stdin, stdout, stderr). */
const SECCOMP_FD = 3;
const ENV_FD = 4;

/**
 * The first process of every sandbox chain, as root: `bash -c SCRIPT bash <cgroup.procs files…> --
 * <program> <args…>` closes the fds it inherited, joins the process's cgroups, then becomes the
 * program with an empty environment. One shell for both steps: each exec on this chain is on the way
 * to every build step and every new instance.
 */
const SANDBOX_ENTRY_SCRIPT = `${CLOSE_FDS_LOOP}; ${JOIN_CGROUPS_LOOP}; exec -c "$@"`;

/** Finds a program on the usual system paths. */
function which(program: string): string | null {
  for (const dir of ['/usr/bin', '/bin', '/usr/sbin', '/sbin', '/usr/local/bin']) {
    const file = path.join(dir, program);
    if (fs.existsSync(file)) return file;
  }
  return null;
}

/** How /bin, /lib, … look on this host (merged-/usr symlinks or directories). */
function hostLayout(): HostLayout {
  const topLevel: Record<string, string | null> = {};
  for (const name of ['bin', 'sbin', 'lib', 'lib32', 'lib64', 'libx32']) {
    try {
      const st = fs.lstatSync(`/${name}`);
      topLevel[name] = st.isSymbolicLink() ? fs.readlinkSync(`/${name}`).replace(/^\//, '') : null;
    } catch {
      // absent on this host
    }
  }
  return { topLevel, etcFiles: ETC_FILES.filter((f) => fs.existsSync(f)) };
}

/** Why the bwrap sandbox cannot work here, or null when it can. */
export function sandboxUnavailableReason(): string | null {
  if (!which('bwrap')) return 'bubblewrap (bwrap) is not installed';
  if (!which('setpriv')) return 'setpriv (util-linux) is not installed';
  if (process.getuid?.() !== 0)
    return 'the sandbox needs root (to drop to per-project uids and manage cgroups)';
  if (!detectCgroups('paastech-probe')) return 'no usable cgroup v1 or v2 hierarchy under /sys/fs/cgroup';
  return null;
}

/** Runs processes in bubblewrap sandboxes (or unconfined with sandbox "none"). */
export class LocalRuntime implements Runtime {
  readonly kind = 'local';
  private readonly layout = hostLayout();
  private readonly cgroups: Cgroups | null;
  private readonly etcDir: string;
  private readonly networks: ProjectNetworks | null;
  /**
   * "<project id>:<port>" of a running web instance → the address it listens on (its project's
   * namespace address). Keyed by project: ports come from the host, where another project's
   * instance listening on the same port in its own namespace does not show, so two projects may
   * well hold the same port at once.
   */
  private readonly addressByPort = new Map<string, string>();
  /** "<project id>:<port>" handed out by allocatePort and not yet released (see there). */
  private readonly portsHeld = new Set<string>();
  private readonly programs: { bwrap: string; nsenter: string };
  /** The operator's global egress switch. */
  private readonly egressAllowed: boolean;

  constructor(private readonly options: LocalRuntimeOptions) {
    const tag = createHash('sha256').update(options.stateDir).digest('hex').slice(0, 10);
    this.cgroups = options.sandbox === 'bwrap' ? detectCgroups(`paastech-${tag}`) : null;
    this.etcDir = path.join(options.stateDir, 'etc');
    const network = options.network === undefined ? DEFAULT_INSTANCE_NETWORK : options.network;
    this.egressAllowed = network?.egress ?? false;
    this.networks =
      options.sandbox === 'bwrap' && network
        ? new ProjectNetworks({ tag: `paastech-${tag}`, ...network })
        : null;
    // Absolute paths: the root processes must never look a program up on a PATH.
    this.programs = {
      bwrap: which('bwrap') ?? '/usr/bin/bwrap',
      nsenter: which('nsenter') ?? '/usr/bin/nsenter',
    };
  }

  /** The project's network namespace, created on first use (null without network isolation). */
  async projectNetwork(projectId: string) {
    return this.networks ? this.networks.ensure(projectId) : null;
  }

  /** Turns a project's access to the outside world on or off; never on when the operator's
   * PAASTECH_INSTANCE_EGRESS=none closed it for every project. */
  async setEgress(projectId: string, on: boolean): Promise<void> {
    await this.networks?.setEgress(projectId, on && this.egressAllowed);
  }

  /** The cgroup version in use (null with sandbox "none"). */
  get cgroupVersion(): 1 | 2 | null {
    return this.cgroups?.version ?? null;
  }

  /**
   * A port free on the host that no instance of the project holds. The host cannot see the ports
   * taken inside a project's namespace, and the kernel hands a port back out as soon as it is free
   * on the host: a new instance given its predecessor's port would fail to listen (EADDRINUSE)
   * while its health check reached the predecessor. Held until the instance's sandbox has ended.
   * Without namespaces the host sees every instance's port, and any free one will do.
   */
  /** Sandboxed: an instance's processes are its cgroup's, and the TCP tables its namespace's. */
  get knowsListeners(): boolean {
    return this.options.sandbox !== 'none' && this.cgroups !== null;
  }

  async allocatePort(projectId: string): Promise<number> {
    // Only sandboxed instances run in their project's namespace (and release what is held here).
    if (!this.networks || !this.knowsListeners) return freePort();
    for (let tries = 0; ; tries++) {
      const port = await freePort();
      const key = `${projectId}:${port}`;
      if (!this.portsHeld.has(key)) {
        this.portsHeld.add(key);
        return port;
      }
      if (tries >= 100) throw new Error(`no free port for project ${projectId} after 100 tries`);
    }
  }

  upstreamAddress(projectId: string, port: number): string {
    return `${this.addressByPort.get(`${projectId}:${port}`) ?? '127.0.0.1'}:${port}`;
  }

  async run(spec: ProcessSpec, onLine: (text: string) => void): Promise<RunningProcess> {
    if (this.options.sandbox === 'none' || !this.cgroups) return this.runUnconfined(spec, onLine);
    const port = spec.env.PORT ? Number(spec.env.PORT) : undefined;
    const body = { envText: envFileText(spec.env), argv: spec.argv, stdin: spec.stdin };
    return (await this.startSandbox(spec, port, body, onLine)).proc;
  }

  /**
   * Sets up a web instance's sandbox before its command is known: the chain runs up to the bwrap
   * step that reads the environment file from a socket (then the argv in it, see
   * LOAD_ENV_AND_ARGV_SCRIPT); `start` writes it, and bwrap binds the app directory (whatever is at
   * its path by then: it must exist from the start) and runs the command. Output before `start` is
   * kept for its `onLine`.
   */
  async prepare(spec: PreparedSpec): Promise<PreparedProcess | null> {
    if (this.options.sandbox === 'none' || !this.cgroups) return null;
    const port = await this.allocatePort(spec.projectId);
    const early: string[] = [];
    let sink: ((text: string) => void) | undefined;
    const { proc, envChannel, gone } = await this.startSandbox(spec, port, 'deferred', (t) =>
      sink ? sink(t) : early.push(t),
    );
    let started = false;
    return {
      port,
      get usable() {
        return !started && !gone();
      },
      start: (argv, env, onLine) => {
        if (started || gone())
          throw new Error(`prepared sandbox ${spec.id} cannot start: already used or ended`);
        started = true;
        sink = onLine;
        for (const t of early.splice(0)) onLine(t);
        const { [ARGV_VARIABLE]: _, [ARGV_END_VARIABLE]: __, ...exported } = env;
        envChannel?.end(preparedEnvFileText(exported, argv));
        return proc;
      },
      // The waiting bwrap is killed with its cgroup; the channel closes once it is gone (closing it
      // first would let bwrap go on with an empty environment).
      cancel: async () => {
        started = true;
        await proc.stop(0);
      },
    };
  }

  /**
   * Starts the sandbox chain of `spec`: bash (closes inherited fds, joins the cgroups) → nsenter
   * into the project's network → bwrap → setpriv → the env loader → argv. With 'deferred' the
   * environment file (and the argv in it) is written later to the returned channel.
   */
  private async startSandbox(
    spec: PreparedSpec,
    port: number | undefined,
    body: { envText: string; argv: string[]; stdin: Readable | undefined } | 'deferred',
    onLine: (text: string) => void,
  ): Promise<{ proc: RunningProcess; envChannel?: Writable; gone: () => boolean }> {
    const cg = this.cgroups as Cgroups;
    const networks = this.networks;
    const deferred = body === 'deferred';
    const addressKey = `${spec.projectId}:${port}`;
    let network: Awaited<ReturnType<ProjectNetworks['acquire']>> | null = null;
    try {
      network = networks ? await networks.acquire(spec.projectId) : null;
    } catch (err) {
      this.portsHeld.delete(addressKey);
      throw err;
    }
    if (network && port) {
      this.addressByPort.set(addressKey, network.addresses.nsAddress);
      this.portsHeld.add(addressKey);
    }
    const releaseNetwork = async () => {
      if (network && port) {
        this.addressByPort.delete(addressKey);
        this.portsHeld.delete(addressKey);
      }
      if (network) await networks?.release(spec.projectId);
    };
    const group = `${spec.projectId}/${spec.id}`;
    let procsFiles: string[];
    try {
      procsFiles = cg.create(group, spec.limits);
    } catch (err) {
      await releaseNetwork();
      throw err;
    }
    const { passwd, group: groupFile } = this.identityFiles(spec.uid, spec.gid);
    const args = bwrapArgs(this.layout, {
      ...spec,
      argv: deferred ? [] : body.argv,
      argvInEnvFile: deferred,
      passwdFile: passwd,
      groupFile,
      seccompFd: SECCOMP_FD,
      envFd: ENV_FD,
      tmpSizeBytes: tmpSizeBytes(spec.limits),
    });
    const enterNet = network ? [this.programs.nsenter, `--net=${network.nsPath}`, '--'] : [];
    const seccomp = this.seccompFd();
    const envFd = deferred ? 'pipe' : this.envFileFd(spec.id, body.envText);
    const stdin = deferred ? undefined : body.stdin;
    let child: ChildProcess;
    try {
      child = spawn(
        BASH,
        [
          ...BASH_FLAGS,
          '-c',
          SANDBOX_ENTRY_SCRIPT,
          'bash',
          ...procsFiles,
          '--',
          ...enterNet,
          this.programs.bwrap,
          ...args,
        ],
        {
          cwd: '/',
          env: { ...OUTER_ENV },
          stdio: [stdinOf(stdin), 'pipe', 'pipe', seccomp, envFd],
        },
      );
      feedStdin(child, stdin);
    } finally {
      fs.closeSync(seccomp);
      if (envFd !== 'pipe') fs.closeSync(envFd);
    }
    // A socket of ours: bwrap reads it to its end when it gets to the environment file.
    const envChannel = deferred ? (child.stdio[ENV_FD] as Writable) : undefined;
    envChannel?.on('error', () => {});
    const output = Promise.all([
      child.stdout ? forEachLine(child.stdout, onLine) : undefined,
      child.stderr ? forEachLine(child.stderr, onLine) : undefined,
    ]);
    const exited = waitExit(child).then(async (exit) => {
      envChannel?.destroy();
      const oomKilled = cg.oomKilled(group);
      await cg.destroy(group);
      await releaseNetwork();
      await output;
      return { ...fromBwrapStatus(exit), oomKilled };
    });
    const proc: RunningProcess = {
      pid: child.pid ?? -1,
      exited,
      stop: async (graceMs) => {
        // SIGTERM only the app's own processes: bwrap (root) would take the namespace down with SIGKILL.
        for (const pid of cg.pids(group)) if (uidOf(pid) === spec.uid) signal(pid, 'SIGTERM');
        const timer = setTimeout(() => void cg.destroy(group), graceMs);
        await exited;
        clearTimeout(timer);
      },
      listening: async () => listeningSockets(cg.pids(group)),
      usage: async () => cg.usage(group),
    };
    // True from the moment the chain's first process has exited (before `exited`, which waits for
    // the cgroup and network to be released).
    const gone = () => child.exitCode !== null || child.signalCode !== null;
    return envChannel ? { proc, envChannel, gone } : { proc, gone };
  }

  /** Runs without any sandbox: own process group so stop still reaches every child. */
  private async runUnconfined(spec: ProcessSpec, onLine: (text: string) => void): Promise<RunningProcess> {
    let cwd = spec.appDir;
    const [program = '/bin/sh', ...rest] = spec.argv.map((a) => a.replace(/^\/app(?=\/|$)/, spec.appDir));
    for (const b of spec.extraBinds) cwd = cwd.replace(b.sandbox, b.host);
    const env = { ...spec.env };
    for (const [k, v] of Object.entries(env)) {
      let value = v.replace(/(^|:)\/app(?=\/|:|$)/g, `$1${spec.appDir}`);
      for (const b of spec.extraBinds) value = value.split(b.sandbox).join(b.host);
      env[k] = value;
    }
    const child = spawn(program, rest, {
      cwd,
      env,
      stdio: [stdinOf(spec.stdin), 'pipe', 'pipe'],
      detached: true,
    });
    feedStdin(child, spec.stdin);
    const output = Promise.all([
      child.stdout ? forEachLine(child.stdout, onLine) : undefined,
      child.stderr ? forEachLine(child.stderr, onLine) : undefined,
    ]);
    const exited = waitExit(child).then(async (exit) => {
      signal(-(child.pid ?? 0), 'SIGKILL');
      await output;
      return { ...exit, oomKilled: false };
    });
    return {
      pid: child.pid ?? -1,
      exited,
      stop: async (graceMs) => {
        signal(-(child.pid ?? 0), 'SIGTERM');
        const timer = setTimeout(() => signal(-(child.pid ?? 0), 'SIGKILL'), graceMs);
        await exited;
        clearTimeout(timer);
      },
      listening: async () => listeningSockets(child.pid ? [child.pid, ...childPids(child.pid)] : []),
      usage: async () => ({ memoryBytes: 0, cpuMicros: 0 }),
    };
  }

  /** Opens the seccomp program for bwrap to read (written once per installation). */
  private seccompFd(): number {
    const filter = path.join(this.runDir(), 'seccomp.bpf');
    if (!fs.existsSync(filter)) fs.writeFileSync(filter, seccompProgram(), { mode: 0o600 });
    return fs.openSync(filter, 'r');
  }

  /**
   * Opens a file holding `text` (a process's environment) for bwrap to read. It is unlinked at once:
   * only the open fd, handed to bwrap alone, still names it.
   */
  private envFileFd(id: string, text: string): number {
    const envPath = path.join(this.runDir(), `${id}.env`);
    fs.writeFileSync(envPath, text, { mode: 0o600 });
    const fd = fs.openSync(envPath, 'r');
    fs.rmSync(envPath, { force: true });
    return fd;
  }

  /** The runtime's private directory of sandbox files. */
  private runDir(): string {
    const dir = path.join(this.options.stateDir, 'run');
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    return dir;
  }

  /** Writes /etc/passwd and /etc/group for the sandbox, naming the project's uid "app". */
  private identityFiles(uid: number, gid: number): { passwd: string; group: string } {
    const dir = path.join(this.etcDir, String(uid));
    const passwd = path.join(dir, 'passwd');
    const group = path.join(dir, 'group');
    if (!fs.existsSync(group)) {
      fs.mkdirSync(dir, { recursive: true });
      fs.writeFileSync(
        passwd,
        `root:x:0:0:root:/root:/usr/sbin/nologin\napp:x:${uid}:${gid}:app:/app:/bin/sh\n`,
      );
      fs.writeFileSync(group, `root:x:0:\napp:x:${gid}:\n`);
    }
    return { passwd, group };
  }

  async cleanupLeftovers(): Promise<number> {
    if (!this.cgroups) return 0;
    const groups = this.cgroups.list();
    let killed = 0;
    for (const g of groups) {
      killed += this.cgroups.pids(g).length;
      await this.cgroups.destroy(g);
    }
    await this.networks?.destroyAll();
    await this.networks?.sweep();
    return killed;
  }

  async forgetProject(projectId: string): Promise<void> {
    if (!this.cgroups) return;
    for (const g of this.cgroups.list().filter((x) => x === projectId || x.startsWith(`${projectId}/`))) {
      await this.cgroups.destroy(g);
    }
    await this.networks?.destroy(projectId);
  }
}

/** Resolves with the exit code/signal of a child (or code 127 when it could not start). */
function waitExit(child: ChildProcess): Promise<Omit<ExitInfo, 'oomKilled'>> {
  return new Promise((resolve) => {
    child.once('error', () => resolve({ code: 127, signal: null }));
    child.once('exit', (code, sig) => resolve({ code, signal: sig }));
  });
}

/** bwrap exits with 128+n when its command was killed by signal n: report the signal instead. */
function fromBwrapStatus(exit: Omit<ExitInfo, 'oomKilled'>): Omit<ExitInfo, 'oomKilled'> {
  if (exit.code === null || exit.code <= 128 || exit.code >= 128 + 32) return exit;
  const name = Object.entries(os.constants.signals).find(([, n]) => n === (exit.code as number) - 128)?.[0];
  return name ? { code: null, signal: name } : exit;
}

/** Sends a signal, ignoring processes that are already gone. */
function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // gone
  }
}

/** Real uid of a process, or -1. */
export function uidOf(pid: number): number {
  try {
    const m = /^Uid:\s+(\d+)/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : -1;
  } catch {
    return -1;
  }
}

/** Descendant pids of `pid` (for the unconfined runtime's diagnosis). */
function childPids(pid: number): number[] {
  try {
    const kids = fs
      .readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8')
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .map(Number);
    return kids.flatMap((k) => [k, ...childPids(k)]);
  } catch {
    return [];
  }
}
