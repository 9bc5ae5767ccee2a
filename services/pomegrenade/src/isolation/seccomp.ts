// The seccomp filter of every sandboxed process: a classic BPF program, assembled here by hand and
// handed to bubblewrap (`--seccomp <fd>`), which loads it just before it executes the command.
// Invariant: the filter allows only the architectures it knows (x86_64, aarch64; anything else —
// including the x32 ABI — is denied), and denies with EPERM every call that lets a process escape or
// reach into the kernel or other processes: ptrace, mounts, namespaces (a new user namespace, setns),
// bpf, kexec, kernel modules, keyrings, perf events, userfaultfd, handle-based opens, swap, reboot,
// accounting, clock setting, and TIOCSTI terminal injection. clone3 answers ENOSYS (its flags sit
// behind a pointer the filter cannot read), so libc falls back to clone, whose flags it can check.

/** AUDIT_ARCH_* values of the architectures the filter knows. */
export const AUDIT_ARCH = { x86_64: 0xc000003e, aarch64: 0xc00000b7 } as const;
export type SeccompArch = keyof typeof AUDIT_ARCH;

/** Return values of a seccomp filter. */
export const SECCOMP_RET = {
  killProcess: 0x80000000,
  errno: 0x00050000,
  allow: 0x7fff0000,
} as const;

const EPERM = 1;
const ENOSYS = 38;
const CLONE_NEWUSER = 0x10000000;
const TIOCSTI = 0x5412;
const X32_SYSCALL_BIT = 0x40000000;

/** Calls denied outright (EPERM), with their numbers per architecture. */
export const DENIED_SYSCALLS: Record<string, Record<SeccompArch, number>> = {
  ptrace: { x86_64: 101, aarch64: 117 },
  process_vm_readv: { x86_64: 310, aarch64: 270 },
  process_vm_writev: { x86_64: 311, aarch64: 271 },
  pidfd_getfd: { x86_64: 438, aarch64: 438 },
  mount: { x86_64: 165, aarch64: 40 },
  umount2: { x86_64: 166, aarch64: 39 },
  pivot_root: { x86_64: 155, aarch64: 41 },
  open_tree: { x86_64: 428, aarch64: 428 },
  move_mount: { x86_64: 429, aarch64: 429 },
  fsopen: { x86_64: 430, aarch64: 430 },
  fsconfig: { x86_64: 431, aarch64: 431 },
  fsmount: { x86_64: 432, aarch64: 432 },
  fspick: { x86_64: 433, aarch64: 433 },
  mount_setattr: { x86_64: 442, aarch64: 442 },
  setns: { x86_64: 308, aarch64: 268 },
  bpf: { x86_64: 321, aarch64: 280 },
  kexec_load: { x86_64: 246, aarch64: 104 },
  kexec_file_load: { x86_64: 320, aarch64: 294 },
  init_module: { x86_64: 175, aarch64: 105 },
  finit_module: { x86_64: 313, aarch64: 273 },
  delete_module: { x86_64: 176, aarch64: 106 },
  keyctl: { x86_64: 250, aarch64: 219 },
  add_key: { x86_64: 248, aarch64: 217 },
  request_key: { x86_64: 249, aarch64: 218 },
  perf_event_open: { x86_64: 298, aarch64: 241 },
  userfaultfd: { x86_64: 323, aarch64: 282 },
  name_to_handle_at: { x86_64: 303, aarch64: 264 },
  open_by_handle_at: { x86_64: 304, aarch64: 265 },
  swapon: { x86_64: 167, aarch64: 224 },
  swapoff: { x86_64: 168, aarch64: 225 },
  reboot: { x86_64: 169, aarch64: 142 },
  acct: { x86_64: 163, aarch64: 89 },
  quotactl: { x86_64: 179, aarch64: 60 },
  syslog: { x86_64: 103, aarch64: 116 },
  settimeofday: { x86_64: 164, aarch64: 170 },
  clock_settime: { x86_64: 227, aarch64: 112 },
  adjtimex: { x86_64: 159, aarch64: 171 },
  clock_adjtime: { x86_64: 305, aarch64: 266 },
  vhangup: { x86_64: 153, aarch64: 58 },
};

/** Calls whose arguments the filter inspects. */
const CHECKED = {
  clone: { x86_64: 56, aarch64: 220 },
  clone3: { x86_64: 435, aarch64: 435 },
  unshare: { x86_64: 272, aarch64: 97 },
  ioctl: { x86_64: 16, aarch64: 29 },
} as const;

// Classic BPF opcodes (linux/bpf_common.h).
const LD_W_ABS = 0x20;
const JEQ_K = 0x15;
const JGE_K = 0x35;
const JSET_K = 0x45;
const RET_K = 0x06;

// Offsets in struct seccomp_data (little-endian: the low 32 bits of args[i] come first).
const OFF_NR = 0;
const OFF_ARCH = 4;
const OFF_ARG0_LO = 16;
const OFF_ARG1_LO = 24;

/** One instruction whose jump targets are labels, resolved by `assemble`. */
type Insn =
  | { op: 'ld'; k: number }
  | { op: 'jeq' | 'jge' | 'jset'; k: number; jt: string | null; jf: string | null }
  | { op: 'ret'; k: number }
  | { op: 'label'; name: string };

/** Per-architecture part: load the number, deny the listed calls, branch to argument checks. */
function archBlock(arch: SeccompArch): Insn[] {
  const out: Insn[] = [
    { op: 'label', name: arch },
    { op: 'ld', k: OFF_NR },
  ];
  if (arch === 'x86_64') out.push({ op: 'jge', k: X32_SYSCALL_BIT, jt: 'deny', jf: null });
  for (const numbers of Object.values(DENIED_SYSCALLS))
    out.push({ op: 'jeq', k: numbers[arch], jt: 'deny', jf: null });
  out.push(
    { op: 'jeq', k: CHECKED.clone3[arch], jt: 'enosys', jf: null },
    { op: 'jeq', k: CHECKED.clone[arch], jt: 'flags', jf: null },
    { op: 'jeq', k: CHECKED.unshare[arch], jt: 'flags', jf: null },
    { op: 'jeq', k: CHECKED.ioctl[arch], jt: 'ioctl', jf: null },
    { op: 'ret', k: SECCOMP_RET.allow },
  );
  return out;
}

/** The whole program as labelled instructions. */
function program(): Insn[] {
  return [
    { op: 'ld', k: OFF_ARCH },
    { op: 'jeq', k: AUDIT_ARCH.x86_64, jt: 'x86_64', jf: null },
    { op: 'jeq', k: AUDIT_ARCH.aarch64, jt: 'aarch64', jf: null },
    { op: 'ret', k: SECCOMP_RET.killProcess },
    ...archBlock('x86_64'),
    ...archBlock('aarch64'),
    // clone/unshare: no new user namespace (the other namespace flags need capabilities we drop).
    { op: 'label', name: 'flags' },
    { op: 'ld', k: OFF_ARG0_LO },
    { op: 'jset', k: CLONE_NEWUSER, jt: 'deny', jf: null },
    { op: 'ret', k: SECCOMP_RET.allow },
    // ioctl: no faking input on a terminal.
    { op: 'label', name: 'ioctl' },
    { op: 'ld', k: OFF_ARG1_LO },
    { op: 'jeq', k: TIOCSTI, jt: 'deny', jf: null },
    { op: 'ret', k: SECCOMP_RET.allow },
    { op: 'label', name: 'deny' },
    { op: 'ret', k: SECCOMP_RET.errno | EPERM },
    { op: 'label', name: 'enosys' },
    { op: 'ret', k: SECCOMP_RET.errno | ENOSYS },
  ];
}

/** A decoded instruction of struct sock_filter. */
export interface SockFilter {
  code: number;
  jt: number;
  jf: number;
  k: number;
}

/** Resolves labels into relative jump offsets (null = fall through). */
export function assemble(insns: Insn[]): SockFilter[] {
  const at = new Map<string, number>();
  const real: Exclude<Insn, { op: 'label' }>[] = [];
  for (const i of insns) {
    if (i.op === 'label') at.set(i.name, real.length);
    else real.push(i);
  }
  const offset = (from: number, label: string | null): number => {
    if (label === null) return 0;
    const target = at.get(label);
    const off = target === undefined ? -1 : target - from - 1;
    if (off < 0 || off > 255) throw new Error(`seccomp: jump to "${label}" out of range (${off})`);
    return off;
  };
  return real.map((i, n) => {
    if (i.op === 'ld') return { code: LD_W_ABS, jt: 0, jf: 0, k: i.k };
    if (i.op === 'ret') return { code: RET_K, jt: 0, jf: 0, k: i.k };
    const code = i.op === 'jeq' ? JEQ_K : i.op === 'jge' ? JGE_K : JSET_K;
    return { code, jt: offset(n, i.jt), jf: offset(n, i.jf), k: i.k };
  });
}

/** The filter as the kernel (and bwrap --seccomp) reads it: 8 bytes per instruction, little-endian. */
export function seccompProgram(): Buffer {
  const insns = assemble(program());
  const buf = Buffer.alloc(insns.length * 8);
  insns.forEach((i, n) => {
    buf.writeUInt16LE(i.code, n * 8);
    buf.writeUInt8(i.jt, n * 8 + 2);
    buf.writeUInt8(i.jf, n * 8 + 3);
    buf.writeUInt32LE(i.k >>> 0, n * 8 + 4);
  });
  return buf;
}

/** Runs a filter on one call, as the kernel would (for tests and docs; pure). */
export function evaluate(filter: Buffer, call: { arch: number; nr: number; args?: number[] }): number {
  const word = (off: number): number => {
    if (off === OFF_NR) return call.nr >>> 0;
    if (off === OFF_ARCH) return call.arch >>> 0;
    const i = (off - 16) / 8;
    return (call.args?.[i] ?? 0) >>> 0;
  };
  let acc = 0;
  for (let pc = 0; pc * 8 < filter.length; pc++) {
    const code = filter.readUInt16LE(pc * 8);
    const jt = filter.readUInt8(pc * 8 + 2);
    const jf = filter.readUInt8(pc * 8 + 3);
    const k = filter.readUInt32LE(pc * 8 + 4);
    if (code === RET_K) return k;
    if (code === LD_W_ABS) acc = word(k);
    else if (code === JEQ_K) pc += acc === k ? jt : jf;
    else if (code === JGE_K) pc += acc >= k ? jt : jf;
    else if (code === JSET_K) pc += (acc & k) !== 0 ? jt : jf;
    else throw new Error(`seccomp: unknown opcode ${code}`);
  }
  throw new Error('seccomp: program fell off its end');
}
