// The sandbox of LocalRuntime as isolation sets it up: the project's network namespace, seccomp,
// no leaked fds, an environment the root processes never see, a sized /tmp, and nothing of a
// project left once its last process is gone.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createLogger } from '@paastech/kit';
import { afterAll, describe, expect, it } from 'vitest';
import { diagnose } from '../src/domain/health.js';
import type { ProcessSpec } from '../src/domain/ports.js';
import {
  ENV_FILE,
  envFileText,
  LOAD_ENV_AND_ARGV_SCRIPT,
  preparedEnvFileText,
} from '../src/isolation/env-file.js';
import { listTables } from '../src/isolation/firewall.js';
import { tmpSizeBytes } from '../src/isolation/limits.js';
import { LocalRuntime, uidOf } from '../src/runtime/local-runtime.js';

const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'iso-'));
const appDir = path.join(stateDir, 'app');
fs.mkdirSync(appDir, { mode: 0o755 });
fs.chmodSync(appDir, 0o755);
const UID = 231_456;
const runtime = new LocalRuntime({
  sandbox: 'bwrap',
  stateDir,
  logger: createLogger('t', { level: 'silent', format: 'json' }),
});
const MiB = 1024 * 1024;

afterAll(async () => {
  await runtime.cleanupLeftovers();
  fs.rmSync(stateDir, { recursive: true, force: true });
});

/** A spec running `script` with /bin/sh in the sandbox of project `projectId`. */
function spec(
  id: string,
  script: string,
  env: Record<string, string> = {},
  projectId = 'iso-a',
): ProcessSpec {
  return {
    projectId,
    id,
    source: 'web.1',
    appDir,
    appWritable: false,
    extraBinds: [],
    argv: ['/bin/sh', '-c', script],
    env: { PATH: '/usr/bin:/bin', ...env },
    limits: { memoryBytes: 64 * MiB, cpuMillicores: 500, maxProcesses: 32, diskBytes: 8 * MiB },
    uid: UID,
    gid: UID,
  };
}

/** Runs to completion and returns the output lines and exit. */
async function runToEnd(s: ProcessSpec) {
  const lines: string[] = [];
  const proc = await runtime.run(s, (t) => lines.push(t));
  const exit = await proc.exited;
  return { lines, exit };
}

describe('environment file', () => {
  it.each([
    [{ A: 'plain' }, "export A='plain'\n"],
    [{ A: "it's" }, "export A='it'\\''s'\n"],
    [{ A: '$(reboot) `id` $HOME' }, "export A='$(reboot) `id` $HOME'\n"],
    [{ A: 'two\nlines' }, "export A='two\nlines'\n"],
    [{ 'BAD-NAME': 'x', '1X': 'y', 'A;reboot': 'z', OK_1: 'v' }, "export OK_1='v'\n"],
  ])('writes %j safely', (env, text) => {
    expect(envFileText(env)).toBe(text);
  });

  it('a prepared sandbox runs its argv word for word, and nothing from a file cut anywhere short of its end mark', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'envfile-'));
    try {
      const file = path.join(dir, 'env');
      const script = LOAD_ENV_AND_ARGV_SCRIPT.replace(ENV_FILE, file);
      const argv = ['/usr/bin/printf', '[%s]', "it's", '$(id)', 'two\nlines', ''];
      const text = preparedEnvFileText({ A: "x'y", B: 'exit 3' }, argv);
      const run = (content: string) => {
        fs.writeFileSync(file, content);
        // stdin closed: a cut that ran a program waiting for input would fail the test, not hang it.
        const r = spawnSync('/bin/sh', ['-c', script, 'sh'], {
          encoding: 'utf8',
          stdio: ['ignore', 'pipe', 'pipe'],
          timeout: 5_000,
        });
        return { code: r.status, out: r.stdout };
      };
      expect(run(text)).toEqual({ code: 0, out: "[it's][$(id)][two\nlines][]" });
      // Every cut but the final newline's (without it the file is still whole).
      for (let cut = 0; cut < text.length - 1; cut++) expect(run(text.slice(0, cut)).out).toBe('');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('caps /tmp at half the memory so filling it ends in ENOSPC, not an OOM kill', () => {
    expect(
      tmpSizeBytes({ memoryBytes: 512 * MiB, cpuMillicores: 1000, maxProcesses: 1, diskBytes: 1024 * MiB }),
    ).toBe(256 * MiB);
    expect(
      tmpSizeBytes({ memoryBytes: 512 * MiB, cpuMillicores: 1000, maxProcesses: 1, diskBytes: 8 * MiB }),
    ).toBe(8 * MiB);
  });
});

describe('diagnosis of an app bound to loopback in its own network namespace', () => {
  const base = { instance: 'web.1', port: 4000, memoryLimitBytes: MiB, timeoutSeconds: 5 };
  it.each([
    [[{ address: '127.0.0.1', port: 4000 }], 'nothing listens on port 4000', /which the router cannot reach/],
    [[{ address: '::1', port: 4000 }], 'nothing listens on port 4000', /which the router cannot reach/],
    [[{ address: '10.213.0.2', port: 4000 }], undefined, /which the router cannot reach/],
    // Answering (host network, sandbox none): loopback was reachable, the app itself is failing.
    [[{ address: '127.0.0.1', port: 4000 }], 'GET / answered 503', /health check on web\.1 failed/],
    [[{ address: '0.0.0.0', port: 4000 }], 'nothing listens on port 4000', /health check on web\.1 failed/],
  ])('%j with last probe %j', (listening, lastProbe, message) => {
    const d = diagnose({ ...base, listening, ...(lastProbe ? { lastProbe } : {}) });
    expect(d.message).toMatch(message);
  });
});

describe('LocalRuntime sandbox with isolation (root)', () => {
  it('delivers hostile env values exactly, and the root processes never see them', async () => {
    const env = {
      SECRET: "s3cr3t'; reboot; echo '",
      LD_PRELOAD: '/app/evil.so',
      GLIBC_TUNABLES: 'glibc.malloc.check=3',
      MULTI: 'a\nb',
    };
    const lines: string[] = [];
    const proc = await runtime.run(
      spec('env', 'echo started; sleep 0.5; printf "%s|%s|%s\\n" "$SECRET" "$LD_PRELOAD" "$MULTI"', env),
      (t) => lines.push(t),
    );
    await new Promise((r) => setTimeout(r, 300));
    // The chain bash (fds, cgroups) → nsenter → bwrap keeps one pid; bwrap forks the namespace's
    // pid 1 (root too). Neither has any variable at all (bash's `exec -c`).
    const children = fs
      .readFileSync(`/proc/${proc.pid}/task/${proc.pid}/children`, 'utf8')
      .trim()
      .split(/\s+/);
    const rootPids = [String(proc.pid), ...children].filter((p) => uidOf(Number(p)) === 0);
    expect(rootPids.length).toBe(2);
    for (const pid of rootPids) {
      expect(fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8')).toContain('/usr/bin/bwrap');
      const environ = fs.readFileSync(`/proc/${pid}/environ`, 'utf8');
      expect(environ.split('\0').filter(Boolean)).toEqual([]);
    }
    const exit = await proc.exited;
    expect(exit.code).toBe(0);
    // ld.so complains once per program that cannot preload: only the app's own shell saw it.
    expect(
      lines.filter((l) => l.includes('/app/evil.so') && l.includes('preloaded')).length,
    ).toBeLessThanOrEqual(2);
    expect(lines).toContain(`${env.SECRET}|/app/evil.so|a`);
  });

  it('has seccomp on, no_new_privs, its own /proc, and no fd beyond stdio', async () => {
    const script = [
      'grep -E "^(Seccomp|NoNewPrivs):" /proc/self/status',
      'echo "procs $(ls /proc | grep -c "^[0-9]")"',
      // The app's own process lists its fds (the one listing them is closed before the check).
      "exec python3 -c \"import os; print('fds', sorted(int(f) for f in os.listdir('/proc/self/fd') if os.path.exists('/proc/self/fd/' + f)))\"",
    ].join('; ');
    const { lines, exit } = await runToEnd(spec('proc', script));
    expect(exit.code).toBe(0);
    expect(lines).toContain('Seccomp:\t2');
    expect(lines).toContain('NoNewPrivs:\t1');
    expect(lines.find((l) => l.startsWith('fds'))).toBe('fds [0, 1, 2]');
    expect(Number(lines.find((l) => l.startsWith('procs '))?.slice(6))).toBeLessThan(8);
  });

  it.each([
    ['unshare --user', 'unshare --user true'],
    ['unshare --net', 'unshare --net true'],
    ['mount a tmpfs', 'mount -t tmpfs none /tmp'],
    ['write under /usr', 'touch /usr/x'],
    ['write the app dir', 'touch /app/x'],
    ['read the host /proc of pid 1 env', 'cat /proc/1/environ | grep -q PAASTECH'],
    ['setuid via su', 'su -c id root </dev/null'],
  ])('%s fails', async (_what, script) => {
    const { exit } = await runToEnd(spec(`deny-${_what.replace(/\W/g, '')}`, script));
    expect(exit.code).not.toBe(0);
  });

  it('fills /tmp to its size and gets ENOSPC, then the platform carries on', async () => {
    const { lines } = await runToEnd(
      spec('fill', 'dd if=/dev/zero of=/tmp/fill bs=1M count=64 2>&1 | head -1; df -k /tmp | tail -1'),
    );
    expect(lines.join('\n')).toMatch(/No space left on device/);
    const size = lines.at(-1)?.trim().split(/\s+/)[1];
    expect(Number(size)).toBe(8 * 1024);
  });

  it('runs in its project network namespace and publishes that address', async () => {
    const lines: string[] = [];
    const proc = await runtime.run(
      spec('net', 'readlink /proc/self/ns/net; sleep 30', { PORT: '45678' }),
      (t) => lines.push(t),
    );
    try {
      const net = await runtime.projectNetwork('iso-a');
      expect(net).not.toBeNull();
      await new Promise((r) => setTimeout(r, 300));
      expect(lines[0]).toBe(`net:[${fs.statSync(net?.nsPath ?? '').ino}]`);
      expect(runtime.upstreamAddress('iso-a', 45678)).toBe(`${net?.addresses.nsAddress}:45678`);
    } finally {
      await proc.stop(500);
    }
    // Gone with the instance: nothing routes to a port no instance of the project listens on.
    expect(runtime.upstreamAddress('iso-a', 45678)).toBe('127.0.0.1:45678');
  });

  it("publishes each project's own address when two projects' instances hold the same port", async () => {
    const a = await runtime.run(spec('same-a', 'sleep 30', { PORT: '45679' }, 'iso-a'), () => {});
    const b = await runtime.run(spec('same-b', 'sleep 30', { PORT: '45679' }, 'iso-b'), () => {});
    try {
      const [netA, netB] = [await runtime.projectNetwork('iso-a'), await runtime.projectNetwork('iso-b')];
      expect(netA?.addresses.nsAddress).not.toBe(netB?.addresses.nsAddress);
      expect(runtime.upstreamAddress('iso-a', 45679)).toBe(`${netA?.addresses.nsAddress}:45679`);
      expect(runtime.upstreamAddress('iso-b', 45679)).toBe(`${netB?.addresses.nsAddress}:45679`);
    } finally {
      await Promise.all([a.stop(200), b.stop(200)]);
      await runtime.forgetProject('iso-b');
    }
  });

  it('leaves no process, cgroup, namespace, veth, table or reservation once a project stops', async () => {
    const proc = await runtime.run(spec('gone', 'sleep 300 & sleep 300', {}, 'iso-gone'), () => {});
    const net = await runtime.projectNetwork('iso-gone');
    await new Promise((r) => setTimeout(r, 200));
    expect(fs.existsSync(net?.nsPath ?? '/nonexistent')).toBe(true);
    await proc.stop(200);
    await runtime.forgetProject('iso-gone');
    expect(fs.existsSync(net?.nsPath ?? '')).toBe(false);
    expect(fs.existsSync(`/sys/class/net/${net?.names.hostIf}`)).toBe(false);
    expect(await listTables(net?.names.table ?? 'none')).toEqual([]);
    const slots = fs
      .readdirSync('/run/paastech/net-slots')
      .map((f) => fs.readFileSync(path.join('/run/paastech/net-slots', f), 'utf8'));
    expect(slots.some((s) => s.includes(net?.names.netns ?? 'none'))).toBe(false);
    const cgroups = fs
      .readdirSync('/sys/fs/cgroup/memory')
      .filter(
        (n) => n.startsWith('paastech-') && fs.existsSync(path.join('/sys/fs/cgroup/memory', n, 'iso-gone')),
      );
    expect(cgroups).toEqual([]);
    const leftovers = fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p) && uidOf(Number(p)) === UID);
    expect(leftovers).toEqual([]);
  });
});
