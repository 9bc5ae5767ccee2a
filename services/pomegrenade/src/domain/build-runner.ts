// Runs one build: source archive → tree in the build sandbox → builder → Procfile → artifact.
// Invariant: a build writes only under builds/v<N>.tmp until it succeeded; the rename to
// builds/v<N> is what makes an artifact exist, so a crash never leaves a half-built artifact in use.
import fs from 'node:fs';
import path from 'node:path';
import { PassThrough, type Writable } from 'node:stream';
import { ExecError, run } from '@paastech/kit';
import { BuildpackBuilder } from '../build/buildpack.js';
import { readAppFile, smallTreeBytes } from '../build/files.js';
import {
  type DiskQuotas,
  type DiskWatch,
  hostFullMessage,
  quotaExceededMessage,
} from '../isolation/disk-quota.js';
import { type BuildInfo, DeploymentFailedError, type Failure, type Limits } from './model.js';
import type { BuildContext, Builder, ExecOptions, Runtime } from './ports.js';
import { parseProcfile } from './procfile.js';

/** Fetches the tar archive of a commit. */
export interface SourceFetcher {
  /** Writes the archive to `dest` and ends it; rejects (and destroys `dest`) when it cannot. */
  fetch(
    request: { projectId: string; commitSha: string; quarantine?: unknown },
    dest: Writable,
  ): Promise<void>;
}

export { DeploymentFailedError };

export interface BuildJob {
  projectId: string;
  number: number;
  commitSha: string;
  quarantine?: unknown;
  builder: string;
  buildpackUrl: string;
  /** The operator's buildpacks directory, where a buildpack name is looked up. */
  buildpacksDir: string;
  timeoutSeconds: number;
  configVars: Record<string, string>;
  limits: Limits;
  uid: number;
  /** builds/v<N> of the project (the artifact; ".tmp" appended while building). */
  artifactDir: string;
  cacheDir: string;
  signal: AbortSignal;
  step(title: string): void;
  line(text: string): void;
  /** Called once the source is fetched (its extraction in the build sandbox under way): the build's
   * own sandbox is set up by then, so work started now does not delay it. */
  onSource?(): void;
}

/** Everything a build needs from the platform. */
export interface BuildDeps {
  runtime: Runtime;
  builders: Builder[];
  source: SourceFetcher;
  /** The per-project disk quota of builds and caches (absent: none, e.g. with a FakeRuntime). */
  disk?: DiskQuotas;
}

const BUILD_ENV_PATH = '/usr/local/bin:/usr/bin:/bin';
const MiB = 1024 * 1024;

/** The limits a build runs under (pure): the deployment's, with room for compilers and package
 * managers (at least 2 GiB and 1024 processes). The local sandbox and `docker build` both use it. */
export function buildLimits(limits: Limits): Limits {
  return {
    ...limits,
    memoryBytes: Math.max(limits.memoryBytes, 2048 * MiB),
    maxProcesses: Math.max(limits.maxProcesses, 1024),
  };
}

/** "ran out of memory[ at …] (limit 2048 MiB)": how a build step killed for memory is reported. */
export function outOfMemory(limitBytes: number, at = ''): string {
  return `ran out of memory${at} (limit ${Math.round(limitBytes / MiB)} MiB)`;
}

/** Output of a command that ran out of space. */
const NO_SPACE = /ENOSPC|No space left on device|Disk quota exceeded/i;

/**
 * Hides config var values in build output (values of 4+ characters; shorter ones are too common).
 * Output is masked one line at a time, so each line of a multi-line value (a PEM key) is hidden too.
 */
export function masker(configVars: Record<string, string>): (text: string) => string {
  const values = [...new Set(Object.values(configVars).flatMap((v) => [v, ...v.split(/\r?\n/)]))]
    .filter((v) => v.trim().length >= 4)
    .sort((a, b) => b.length - a.length);
  return (text) => values.reduce((t, v) => t.split(v).join('[hidden]'), text);
}

/** Runs a build and returns what it produced; throws DeploymentFailedError on any failure. */
export async function runBuild(job: BuildJob, deps: BuildDeps): Promise<BuildInfo> {
  const disk = deps.disk;
  if (!disk) return buildTree(job, deps, null);
  await disk.ensure(job.projectId, job.limits.diskBytes);
  const release = await admitToDisk(job, disk);
  try {
    return await watchedBuild(job, deps, disk);
  } finally {
    // Its writes take host space only once written back: the claim covers them until then. In the
    // background: a sync on the deployment's path would make every push wait for its build's
    // files to reach the disk. Released whether or not the sync succeeds.
    void disk.writeBack(job.projectId).then(release, release);
  }
}

/** How often a build waiting for other builds' disk claims looks again. */
const DISK_ROOM_POLL_MS = 1000;

/**
 * Admits the build to the host's disk (DiskQuotas.admitBuild) and returns the release of its
 * claim. Refused before anything is written: a host that runs full under the project's image loses
 * the build's writes instead of failing them. A build the host has room for alone, kept out only by
 * the claims of other builds running now, waits for them (at most its own timeout: none of them
 * runs longer) instead of failing the push, and says so.
 */
async function admitToDisk(job: BuildJob, disk: DiskQuotas): Promise<() => void> {
  const until = Date.now() + job.timeoutSeconds * 1000;
  let admission = disk.admitBuild(job.projectId);
  for (let said = false; admission.shortfall; said = true) {
    const short = admission.shortfall;
    const fitsAlone = short.others > 0 && short.freeBytes >= short.neededBytes;
    if (job.signal.aborted) throw new DeploymentFailedError({ reason: 'internal', message: 'cancelled' });
    if (!fitsAlone || Date.now() >= until) {
      throw new DeploymentFailedError({ reason: 'build_failed', message: hostFullMessage(short) });
    }
    if (!said) {
      job.step(
        `Waiting for disk room: ${short.others} other build${short.others === 1 ? '' : 's'} may still write ` +
          `up to ${Math.ceil(short.othersBytes / MiB)} MiB, and this one up to ${Math.ceil(short.neededBytes / MiB)} MiB ` +
          `(${Math.floor(short.freeBytes / MiB)} MiB free)`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, DISK_ROOM_POLL_MS));
    admission = disk.admitBuild(job.projectId);
  }
  return admission.release;
}

/** The build with its project's disk watched; a full disk turns a platform write's error into the
 * quota's. */
async function watchedBuild(job: BuildJob, deps: BuildDeps, disk: DiskQuotas): Promise<BuildInfo> {
  const guard = disk.watch(job.projectId, job.limits.diskBytes);
  try {
    return await buildTree(job, deps, guard);
  } catch (err) {
    // A write of the platform's own (the source archive, a copy) that hit the full disk.
    if (!(err instanceof DeploymentFailedError) && guard.check()) {
      throw quotaError(job, disk);
    }
    throw err;
  } finally {
    guard.stop();
  }
}

/** The failure of a build that ran out of its disk quota. */
function quotaError(job: BuildJob, disk: DiskQuotas | undefined, command?: string): DeploymentFailedError {
  return new DeploymentFailedError({
    reason: 'limit_exceeded',
    message: quotaExceededMessage(job.limits.diskBytes, disk?.mode ?? 'loop', command),
  });
}

/** The build itself, its disk watched by `guard` when there is a quota. */
async function buildTree(job: BuildJob, deps: BuildDeps, guard: DiskWatch | null): Promise<BuildInfo> {
  const tmp = `${job.artifactDir}.tmp`;
  const appDir = path.join(tmp, 'app');
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.mkdirSync(appDir, { recursive: true });
  // bwrap (root, but without CAP_DAC_OVERRIDE) must be able to chdir into it; the data dir around
  // it stays 0700, so no other host user reaches it.
  fs.chmodSync(appDir, 0o755);
  fs.mkdirSync(job.cacheDir, { recursive: true, mode: 0o750 });
  // Only root can hand directories to the project's uid; without root the sandbox is "none" and
  // everything runs as the platform's uid anyway.
  if (process.getuid?.() === 0) {
    fs.chownSync(appDir, job.uid, job.uid);
    fs.chownSync(job.cacheDir, job.uid, job.uid);
  }
  const mask = masker(job.configVars);
  const deadline = Date.now() + job.timeoutSeconds * 1000;
  const exec = (argv: string[], o: ExecOptions = {}) =>
    sandboxExec(job, deps, guard, appDir, argv, o, deadline, o.capture ?? ((t) => job.line(mask(t))));

  job.step('Fetching source');
  // The archive streams from the git controller straight into `tar -x` in the build sandbox: the
  // sandbox starts while the archive is produced, and no copy of it lands on disk.
  const source = new PassThrough();
  const fetched = deps.source
    .fetch({ projectId: job.projectId, commitSha: job.commitSha, quarantine: job.quarantine }, source)
    .then(
      () => null,
      (err: unknown) => err as Error,
    );
  const extracted = exec(['tar', '-x', '--no-same-owner', '-f', '-', '-C', '/app'], { stdin: source }).then(
    () => null,
    (err: unknown) => err,
  );
  const fetchError = await fetched;
  if (fetchError) {
    // The archive is cut short: tar fails on it, and the fetch's error is the one to report.
    source.destroy();
    await extracted;
    throw new DeploymentFailedError({
      reason: 'source_unavailable',
      message: `cannot fetch commit ${job.commitSha.slice(0, 12)}: ${fetchError.message}`,
    });
  }
  job.onSource?.();
  const extractError = await extracted;
  if (extractError) throw extractError;

  const builder = job.buildpackUrl
    ? new BuildpackBuilder(job.buildpackUrl, tmp, job.buildpacksDir)
    : await pickBuilder(deps.builders, job.builder, appDir);
  const ctx: BuildContext = {
    appDir,
    cacheDir: job.cacheDir,
    configVars: job.configVars,
    exec,
    step: (t) => job.step(mask(t)),
    info: (t) => job.line(`       ${mask(t)}`),
    projectId: job.projectId,
    number: job.number,
    signal: job.signal,
    deadline,
    limits: buildLimits(job.limits),
  };
  const output = await builder.build(ctx);
  const procfile = readProcfile(appDir);
  const processes = { ...output.defaultProcesses, ...procfile.processes };
  if (Object.keys(processes).length === 0) {
    throw new DeploymentFailedError({
      reason: 'invalid_procfile',
      message: `the ${builder.name} builder found no start command: add a Procfile with a line such as "web: <command>"`,
    });
  }
  job.step(`Process types: ${Object.keys(processes).join(', ')}`);
  if (guard && (await guard.settle())) throw quotaError(job, deps.disk);
  const sizeBytes = await artifactBytes(appDir);
  moveIntoPlace(tmp, job.artifactDir);
  job.step(`Build done (${(sizeBytes / (1024 * 1024)).toFixed(1)} MiB)`);
  return {
    builder: builder.name,
    processes,
    ...(procfile.release ? { release: procfile.release } : {}),
    env: output.env,
    ...(output.profileD ? { profileD: true } : {}),
    ...(output.image ? { image: output.image } : {}),
    sizeBytes,
  };
}

/**
 * Puts the finished tree (builds/v<N>.tmp) at builds/v<N>. When a sandbox prepared for the first
 * instance waits for it (an empty builds/v<N>/app, see Engine.prepareWeb), the app directory
 * replaces that placeholder in one rename, so the path bwrap checked never disappears; otherwise
 * the tree is renamed whole.
 */
function moveIntoPlace(tmp: string, dest: string): void {
  const placeholder = path.join(dest, 'app');
  if (!isDirectory(placeholder) || fs.readdirSync(placeholder).length !== 0) {
    fs.rmSync(dest, { recursive: true, force: true });
    fs.renameSync(tmp, dest);
    return;
  }
  fs.renameSync(path.join(tmp, 'app'), placeholder);
  for (const name of fs.readdirSync(tmp)) {
    fs.rmSync(path.join(dest, name), { recursive: true, force: true });
    fs.renameSync(path.join(tmp, name), path.join(dest, name));
  }
  fs.rmdirSync(tmp);
}

/** True when `p` is a directory (not a symlink to one). */
function isDirectory(p: string): boolean {
  return fs.lstatSync(p, { throwIfNoEntry: false })?.isDirectory() ?? false;
}

/** Entries up to which the artifact's size is counted in-process rather than by a `du` process. */
const COUNTED_ENTRIES = 500;

/** The artifact's size as `du -sb` gives it; small trees (most apps without dependencies) are counted
 * here, which spares a process start on the way to the new instance. */
async function artifactBytes(appDir: string): Promise<number> {
  let counted: number | null = null;
  try {
    counted = smallTreeBytes(appDir, COUNTED_ENTRIES);
  } catch {
    // changed under our feet: du says
  }
  if (counted !== null) return counted;
  return Number((await run('du', ['-sb', '--', appDir])).stdout.split('\t')[0]) || 0;
}

/** The forced builder, or the first one that detects the tree. */
async function pickBuilder(builders: Builder[], forced: string, appDir: string): Promise<Builder> {
  if (forced) {
    const b = builders.find((x) => x.name === forced);
    if (!b) {
      const names = builders.map((x) => x.name).join(', ');
      throw new DeploymentFailedError({
        reason: 'no_builder',
        message: `builder "${forced}" does not exist (known: ${names})`,
      });
    }
    return b;
  }
  for (const b of builders) if (await b.detect(appDir)) return b;
  throw new DeploymentFailedError({
    reason: 'no_builder',
    message: 'no builder fits this app: add a package.json, requirements.txt, index.html or a Procfile',
  });
}

/** Parses the Procfile, if any, turning its errors into an invalid_procfile failure. */
function readProcfile(appDir: string): ReturnType<typeof parseProcfile> {
  const text = readAppFile(appDir, 'Procfile');
  if (text === null) return { processes: {} };
  try {
    return parseProcfile(text);
  } catch (err) {
    throw new DeploymentFailedError({ reason: 'invalid_procfile', message: (err as Error).message });
  }
}

/** Runs one build command in the sandbox (network on, project uid), bounded by the build deadline. */
async function sandboxExec(
  job: BuildJob,
  deps: { runtime: Runtime; disk?: DiskQuotas },
  guard: DiskWatch | null,
  appDir: string,
  argv: string[],
  o: ExecOptions,
  deadline: number,
  line: (t: string) => void,
): Promise<void> {
  if (job.signal.aborted) throw new DeploymentFailedError({ reason: 'internal', message: 'cancelled' });
  const env: Record<string, string> = {
    ...job.configVars,
    PATH: BUILD_ENV_PATH,
    HOME: '/tmp',
    PAASTECH_DEPLOYMENT: `v${job.number}`,
    ...o.env,
  };
  const cwdArgv = o.cwd ? ['/bin/sh', '-c', 'cd "$1" && shift && exec "$@"', 'sh', o.cwd, ...argv] : argv;
  const proc = await deps.runtime.run(
    {
      ...(o.stdin ? { stdin: o.stdin } : {}),
      projectId: job.projectId,
      id: `build-v${job.number}-${Date.now().toString(36)}`,
      source: 'build',
      appDir,
      appWritable: true,
      extraBinds: [{ host: job.cacheDir, sandbox: '/cache', writable: true }, ...(o.binds ?? [])],
      argv: cwdArgv,
      env,
      limits: buildLimits(job.limits),
      uid: job.uid,
      gid: job.uid,
    },
    (t) => {
      // Looked at now: the writer may clean up before the next poll.
      if (NO_SPACE.test(t)) guard?.check(true);
      line(t);
    },
  );
  // Watch mode: the watchdog stops the command once the tree passed the quota.
  const unwatch = guard?.onExceeded(() => void proc.stop(0));
  let timedOut = false;
  const remaining = Math.max(0, deadline - Date.now());
  const timer = setTimeout(() => {
    timedOut = true;
    void proc.stop(2000);
  }, remaining);
  const onAbort = () => void proc.stop(2000);
  job.signal.addEventListener('abort', onAbort);
  const exit = await proc.exited;
  unwatch?.();
  clearTimeout(timer);
  job.signal.removeEventListener('abort', onAbort);
  if (job.signal.aborted) throw new DeploymentFailedError({ reason: 'internal', message: 'cancelled' });
  if (timedOut) {
    throw new DeploymentFailedError({
      reason: 'build_timed_out',
      message: `the build ran past its time limit of ${job.timeoutSeconds}s`,
    });
  }
  if (exit.code !== 0) {
    const cmd = argv.slice(0, 3).join(' ');
    if (guard?.check()) throw quotaError(job, deps.disk, cmd);
    const how = exit.oomKilled
      ? outOfMemory(buildLimits(job.limits).memoryBytes)
      : exit.code !== null
        ? `exited with code ${exit.code}`
        : `was killed by ${exit.signal}`;
    throw new DeploymentFailedError({ reason: 'build_failed', message: `build command "${cmd}" ${how}` });
  }
}

/** Turns unexpected errors into an internal failure (ExecError keeps its message). */
export function toFailure(err: unknown): Failure {
  if (err instanceof DeploymentFailedError) return err.failure;
  if (err instanceof ExecError) return { reason: 'internal', message: err.message };
  return { reason: 'internal', message: `internal error: ${(err as Error).message ?? String(err)}` };
}
