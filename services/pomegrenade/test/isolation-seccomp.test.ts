// The hand-assembled seccomp filter: what it answers per call and architecture (run through a small
// BPF interpreter), and that the kernel enforces it under bubblewrap.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  AUDIT_ARCH,
  DENIED_SYSCALLS,
  evaluate,
  SECCOMP_RET,
  seccompProgram,
} from '../src/isolation/seccomp.js';

const filter = seccompProgram();
const EPERM = SECCOMP_RET.errno | 1;
const ENOSYS = SECCOMP_RET.errno | 38;
const CLONE_NEWUSER = 0x10000000;
const CLONE_THREAD_FLAGS = 0x3d0f00;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'seccomp-'));
const filterFile = path.join(dir, 'filter.bpf');
fs.writeFileSync(filterFile, filter);

afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** Runs argv under bwrap as root with (or without) the filter; exit code and output. */
function underBwrap(argv: string[], withFilter: boolean): Promise<{ code: number | null; out: string }> {
  const fd = fs.openSync(filterFile, 'r');
  const seccomp = withFilter ? ['--seccomp', '3'] : [];
  const child = spawn(
    'bwrap',
    [...seccomp, '--ro-bind', '/', '/', '--proc', '/proc', '--dev', '/dev', '--unshare-pid', '--', ...argv],
    { stdio: ['ignore', 'pipe', 'pipe', fd] },
  );
  fs.closeSync(fd);
  let out = '';
  child.stdout?.on('data', (b) => (out += b));
  child.stderr?.on('data', (b) => (out += b));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, out })));
}

describe('seccomp filter (interpreted)', () => {
  const denied = Object.entries(DENIED_SYSCALLS).flatMap(([name, nr]) => [
    [name, 'x86_64', nr.x86_64] as const,
    [name, 'aarch64', nr.aarch64] as const,
  ]);

  it.each(denied)('denies %s on %s (nr %i) with EPERM', (_name, arch, nr) => {
    expect(evaluate(filter, { arch: AUDIT_ARCH[arch], nr })).toBe(EPERM);
  });

  it.each([
    ['read', 'x86_64', 0],
    ['write', 'x86_64', 1],
    ['openat', 'x86_64', 257],
    ['execve', 'x86_64', 59],
    ['read', 'aarch64', 63],
    ['openat', 'aarch64', 56],
  ] as const)('allows %s on %s', (_name, arch, nr) => {
    expect(evaluate(filter, { arch: AUDIT_ARCH[arch], nr })).toBe(SECCOMP_RET.allow);
  });

  it.each([
    ['clone', 'x86_64', 56],
    ['unshare', 'x86_64', 272],
    ['clone', 'aarch64', 220],
    ['unshare', 'aarch64', 97],
  ] as const)('%s on %s: threads and forks pass, a new user namespace does not', (_n, arch, nr) => {
    expect(evaluate(filter, { arch: AUDIT_ARCH[arch], nr, args: [CLONE_THREAD_FLAGS] })).toBe(
      SECCOMP_RET.allow,
    );
    expect(evaluate(filter, { arch: AUDIT_ARCH[arch], nr, args: [CLONE_NEWUSER | 0x11] })).toBe(EPERM);
  });

  it('clone3 answers ENOSYS so libc falls back to clone', () => {
    expect(evaluate(filter, { arch: AUDIT_ARCH.x86_64, nr: 435 })).toBe(ENOSYS);
  });

  it('ioctl TIOCSTI is denied, other ioctls pass', () => {
    expect(evaluate(filter, { arch: AUDIT_ARCH.x86_64, nr: 16, args: [0, 0x5412] })).toBe(EPERM);
    expect(evaluate(filter, { arch: AUDIT_ARCH.x86_64, nr: 16, args: [0, 0x5401] })).toBe(SECCOMP_RET.allow);
  });

  it.each([
    ['x32 ABI call', AUDIT_ARCH.x86_64, 0x40000000 + 101, EPERM],
    ['i386', 0x40000003, 26, SECCOMP_RET.killProcess],
    ['arm (32-bit)', 0x40000028, 26, SECCOMP_RET.killProcess],
  ])('%s is refused', (_name, arch, nr, expected) => {
    expect(evaluate(filter, { arch, nr })).toBe(expected);
  });
});

describe('seccomp filter (kernel, under bwrap)', () => {
  it.each([
    ['a new user namespace', ['unshare', '--user', 'true']],
    ['mount', ['mount', '-t', 'tmpfs', 'none', '/mnt']],
    // keyctl(KEYCTL_JOIN_SESSION_KEYRING, NULL)
    [
      'keyctl',
      ['python3', '-c', 'import ctypes,sys;sys.exit(0 if ctypes.CDLL(None).syscall(250,1,0)>=0 else 1)'],
    ],
  ])('blocks %s, which works without the filter', async (_name, argv) => {
    expect((await underBwrap(argv, false)).code).toBe(0);
    const filtered = await underBwrap(argv, true);
    expect(filtered.code).not.toBe(0);
  });

  it('ordinary programs run unaffected (fork, threads, files)', async () => {
    const r = await underBwrap(
      [
        process.execPath,
        '-e',
        "require('child_process').execFileSync('true');require('fs').readFileSync('/etc/hostname');console.log('fine')",
      ],
      true,
    );
    expect(r).toEqual({ code: 0, out: 'fine\n' });
  });
});
