// The bubblewrap command line of a sandboxed process (pure). Invariant: every argument is built
// from our own values; user text (Procfile commands, env values, project names) only ever appears
// after the final `--`, as the argv of `/bin/sh -c` inside the sandbox, never where bwrap or
// setpriv parse options. Env values are not on the command line at all (visible in /proc to every
// user): the process gets them as its environment.
import type { Bind } from '../domain/ports.js';
import { ENV_FILE, LOAD_ENV_AND_ARGV_SCRIPT, LOAD_ENV_SCRIPT } from '../isolation/env-file.js';

/** Files of /etc programs need (TLS roots, resolver, dynamic linker); nothing else of /etc. */
export const ETC_FILES = [
  '/etc/alternatives',
  '/etc/ca-certificates',
  '/etc/ssl',
  '/etc/resolv.conf',
  '/etc/hosts',
  '/etc/host.conf',
  '/etc/gai.conf',
  '/etc/nsswitch.conf',
  '/etc/ld.so.cache',
  '/etc/ld.so.conf',
  '/etc/ld.so.conf.d',
  '/etc/localtime',
  '/etc/mime.types',
  '/etc/os-release',
  '/etc/python3',
  '/etc/python3.11',
];

/** How the host's top-level system directories are laid out: merged-/usr symlinks or real dirs. */
export interface HostLayout {
  /** Top-level name → symlink target (e.g. bin → usr/bin) or null for a real directory. */
  topLevel: Record<string, string | null>;
  etcFiles: string[];
}

export interface SandboxOptions {
  appDir: string;
  appWritable: boolean;
  extraBinds: Bind[];
  uid: number;
  gid: number;
  argv: string[];
  /** Files to bind at /etc/passwd and /etc/group so the uid has a name and a home. */
  passwdFile?: string;
  groupFile?: string;
  /** Open fd (in bwrap) of the seccomp program (isolation/seccomp.ts). */
  seccompFd?: number;
  /** Open fd (in bwrap) of the environment file; the command then runs via LOAD_ENV_SCRIPT. */
  envFd?: number;
  /** Size of the private /tmp (a tmpfs, charged to the memory cgroup); 0 = tmpfs default. */
  tmpSizeBytes?: number;
  /** The argv comes at the end of the environment file (LOAD_ENV_AND_ARGV_SCRIPT), not on this
   * command line: a sandbox prepared before its command is known. Needs `envFd`. */
  argvInEnvFile?: boolean;
}

/** Arguments of `bwrap` (without the program name) for one sandboxed process. */
export function bwrapArgs(layout: HostLayout, o: SandboxOptions): string[] {
  // The network namespace is the project's own when the caller runs bwrap inside it (nsenter):
  // bwrap keeps the one it starts in.
  const args = [
    ...(o.seccompFd === undefined ? [] : ['--seccomp', String(o.seccompFd)]),
    '--unshare-ipc',
    '--unshare-pid',
    '--unshare-uts',
    '--unshare-cgroup-try',
    '--die-with-parent',
    '--new-session',
    '--cap-drop',
    'ALL',
    '--cap-add',
    'CAP_SETUID',
    '--cap-add',
    'CAP_SETGID',
    '--ro-bind',
    '/usr',
    '/usr',
  ];
  for (const [name, target] of Object.entries(layout.topLevel)) {
    if (target === null) args.push('--ro-bind', `/${name}`, `/${name}`);
    else args.push('--symlink', target, `/${name}`);
  }
  args.push('--dir', '/etc', '--chmod', '0755', '/etc');
  for (const file of layout.etcFiles) args.push('--ro-bind-try', file, file);
  if (o.passwdFile) args.push('--ro-bind', o.passwdFile, '/etc/passwd');
  if (o.groupFile) args.push('--ro-bind', o.groupFile, '/etc/group');
  args.push('--proc', '/proc', '--dev', '/dev');
  if (o.tmpSizeBytes) args.push('--size', String(o.tmpSizeBytes));
  args.push('--tmpfs', '/tmp', '--chmod', '1777', '/tmp');
  // bwrap reads the environment's fd at this step: a prepared sandbox waits here, the system part
  // of its tree set up. The app directory comes after: bwrap checks that its path exists when it
  // starts but binds whatever is there at this later step (a build renames its tree there).
  if (o.envFd !== undefined) args.push('--perms', '0444', '--ro-bind-data', String(o.envFd), ENV_FILE);
  args.push(o.appWritable ? '--bind' : '--ro-bind', o.appDir, '/app');
  for (const b of o.extraBinds) args.push(b.writable ? '--bind' : '--ro-bind', b.host, b.sandbox);
  const deferred = o.envFd !== undefined && o.argvInEnvFile === true;
  const script = deferred ? LOAD_ENV_AND_ARGV_SCRIPT : LOAD_ENV_SCRIPT;
  const loadEnv = o.envFd === undefined ? [] : ['/bin/sh', '-c', script, 'sh'];
  args.push('--chdir', '/app', '--', ...setprivArgs(o.uid, o.gid), ...loadEnv, ...(deferred ? [] : o.argv));
  return args;
}

/** `setpriv` dropping to the project's uid/gid with no supplementary groups and no_new_privs. */
export function setprivArgs(uid: number, gid: number): string[] {
  if (!Number.isInteger(uid) || uid <= 0 || !Number.isInteger(gid) || gid <= 0) {
    throw new Error(`refusing to run a sandboxed process as uid ${uid} / gid ${gid}`);
  }
  return ['/usr/bin/setpriv', `--reuid=${uid}`, `--regid=${gid}`, '--clear-groups', '--no-new-privs', '--'];
}

/**
 * sh statements that put the running shell into cgroups: its positional arguments are
 * `<cgroup.procs files…> -- <program> <args…>`, and it leaves `<program> <args…>` in "$@". The text
 * never changes; paths and the command are positional arguments, so nothing is ever interpreted by
 * the shell.
 */
export const JOIN_CGROUPS_LOOP =
  'for f; do if [ "$f" = -- ]; then break; fi; echo $$ > "$f" || exit 125; shift; done; shift';
