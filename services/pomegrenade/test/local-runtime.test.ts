// LocalRuntime for real: bubblewrap, setpriv uid drop, cgroup limits, stop leaving nothing behind.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createLogger } from '@paastech/kit';
import { afterAll, describe, expect, it } from 'vitest';
import type { ProcessSpec } from '../src/domain/ports.js';
import { LocalRuntime, uidOf } from '../src/runtime/local-runtime.js';
import { bwrapArgs, JOIN_CGROUPS_LOOP } from '../src/runtime/sandbox.js';
import { eventually } from './support/fake-engine.js';

const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'lrt-'));
const appDir = path.join(stateDir, 'app');
fs.mkdirSync(appDir, { mode: 0o755 });
fs.chmodSync(appDir, 0o755);
fs.writeFileSync(path.join(appDir, 'hello.txt'), 'hi\n');
const UID = 230_123;
const runtime = new LocalRuntime({
  sandbox: 'bwrap',
  stateDir,
  logger: createLogger('t', { level: 'silent', format: 'json' }),
});

afterAll(async () => {
  await runtime.cleanupLeftovers();
  fs.rmSync(stateDir, { recursive: true, force: true });
});

/** A spec running `script` with /bin/sh in the sandbox. */
function spec(id: string, script: string, env: Record<string, string> = {}): ProcessSpec {
  return {
    projectId: 'proj',
    id,
    source: 'web.1',
    appDir,
    appWritable: false,
    extraBinds: [],
    argv: ['/bin/sh', '-c', script],
    env: { PATH: '/usr/bin:/bin', ...env },
    limits: { memoryBytes: 64 * 1024 * 1024, cpuMillicores: 250, maxProcesses: 32, diskBytes: 0 },
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

/** The memory cgroup (v1) of a process of this runtime, found by its id. */
function memoryGroup(id: string): string {
  const dir = '/sys/fs/cgroup/memory';
  const root = fs
    .readdirSync(dir)
    .find((n) => n.startsWith('paastech-') && fs.existsSync(path.join(dir, n, 'proj', id)));
  if (!root) throw new Error(`no cgroup for ${id}`);
  return path.join(dir, root, 'proj', id);
}

/** True while `pid` exists and is not a zombie waiting to be reaped. */
function alive(pid: number): boolean {
  try {
    return !/^State:\s+Z/m.test(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return false;
  }
}

/** Polls `check` for up to 2 s. */
async function until(check: () => boolean, what = 'condition'): Promise<void> {
  const deadline = Date.now() + 2000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('LocalRuntime (bwrap)', () => {
  it('runs as the project uid with no capabilities and no_new_privs', async () => {
    const { lines, exit } = await runToEnd(
      spec('uid', 'grep -E "^(Uid|Gid|Groups|CapEff|NoNewPrivs):" /proc/self/status'),
    );
    expect(exit.code).toBe(0);
    expect(lines).toContain(`Uid:\t${UID}\t${UID}\t${UID}\t${UID}`);
    expect(lines).toContain(`Gid:\t${UID}\t${UID}\t${UID}\t${UID}`);
    expect(lines.find((l) => l.startsWith('Groups:'))?.trim()).toBe('Groups:');
    expect(lines).toContain('CapEff:\t0000000000000000');
    expect(lines).toContain('NoNewPrivs:\t1');
  });

  it('sees only its app dir (read-only), a private /tmp, and nothing of the data dir', async () => {
    fs.writeFileSync(path.join(stateDir, 'secret-db'), 'do not read');
    const script = [
      'cat /app/hello.txt',
      '(echo x > /app/new) 2>/dev/null && echo app-writable || echo app-read-only',
      'echo t > /tmp/t && echo tmp-writable',
      `ls ${stateDir} 2>&1 | sed 's/^/data: /' | head -1`,
      `ls /root 2>&1 | sed 's/^/root: /' | head -1`,
      'echo "procs: $(ls /proc | grep -c "^[0-9]")"',
      'echo "env: $(env | sort | tr "\\n" " ")"',
    ].join('; ');
    const { lines } = await runToEnd(spec('fs', script, { FOO: 'bar' }));
    expect(lines).toContain('hi');
    expect(lines).toContain('app-read-only');
    expect(lines).toContain('tmp-writable');
    expect(lines.find((l) => l.startsWith('data: '))).toMatch(/No such file or directory/);
    expect(lines.find((l) => l.startsWith('root: '))).toMatch(/No such file or directory/);
    // Its own pid namespace: bwrap, sh and the few commands of the pipeline, not the host's processes.
    expect(Number(lines.find((l) => l.startsWith('procs: '))?.slice(7))).toBeLessThan(10);
    expect(lines.find((l) => l.startsWith('env:'))).toBe('env: FOO=bar PATH=/usr/bin:/bin PWD=/app ');
  });

  it('never parses the command as a bwrap or setpriv option', () => {
    const args = bwrapArgs(
      { topLevel: { bin: 'usr/bin' }, etcFiles: [] },
      {
        appDir: '/data/app',
        appWritable: false,
        extraBinds: [],
        uid: UID,
        gid: UID,
        argv: ['/bin/sh', '-c', '--bind / /host'],
      },
    );
    const lastSep = args.lastIndexOf('--');
    expect(args.slice(lastSep + 1)).toEqual(['/bin/sh', '-c', '--bind / /host']);
    expect(args.indexOf('--')).toBeLessThan(args.indexOf('/usr/bin/setpriv'));
    // The cgroup entry script is a constant: paths and the command are positional arguments.
    expect(JOIN_CGROUPS_LOOP).not.toContain('${');
  });

  it.each([
    [0, 1000],
    [1000, 0],
    [-5, 1000],
    [Number.NaN, 1000],
  ])('refuses to run as uid %s / gid %s', (uid, gid) => {
    expect(() =>
      bwrapArgs(
        { topLevel: {}, etcFiles: [] },
        { appDir: '/a', appWritable: false, extraBinds: [], uid, gid, argv: ['x'] },
      ),
    ).toThrow('refusing to run a sandboxed process as uid');
  });

  it('applies memory, pids and CPU limits in its cgroup', async () => {
    const lines: string[] = [];
    const proc = await runtime.run(spec('limits', 'echo started; sleep 30'), (t) => lines.push(t));
    try {
      await until(() => lines.includes('started'));
      const group = memoryGroup('limits');
      expect(fs.readFileSync(path.join(group, 'memory.limit_in_bytes'), 'utf8').trim()).toBe(
        String(64 * 1024 * 1024),
      );
      const pidsGroup = group.replace('/memory/', '/pids/');
      expect(fs.readFileSync(path.join(pidsGroup, 'pids.max'), 'utf8').trim()).toBe('32');
      const cpuGroup = group.replace('/memory/', '/cpu/');
      expect(fs.readFileSync(path.join(cpuGroup, 'cpu.cfs_quota_us'), 'utf8').trim()).toBe('2500');
      // Linux 5.14+ (these machines): the saved-quota burst equals the quota.
      const burst = path.join(cpuGroup, 'cpu.cfs_burst_us');
      if (fs.existsSync(burst)) expect(fs.readFileSync(burst, 'utf8').trim()).toBe('2500');
      const pids = fs.readFileSync(path.join(group, 'cgroup.procs'), 'utf8').trim().split('\n').map(Number);
      expect(pids.length).toBeGreaterThanOrEqual(2);
      expect(pids.map(uidOf)).toContain(UID);
    } finally {
      await proc.stop(1000);
    }
  });

  it('stop kills everything the process forked and removes its cgroup', async () => {
    const proc = await runtime.run(
      spec('forker', '(sleep 300 &); (trap "" TERM; sleep 300) & sleep 300'),
      () => {},
    );
    await new Promise((r) => setTimeout(r, 300));
    const group = memoryGroup('forker');
    const pids = fs.readFileSync(path.join(group, 'cgroup.procs'), 'utf8').trim().split('\n').map(Number);
    expect(pids.length).toBeGreaterThanOrEqual(4);
    await proc.stop(500);
    for (const pid of pids) await until(() => !alive(pid), `pid ${pid} to end`);
    expect(fs.existsSync(group)).toBe(false);
  });

  it('reports an out-of-memory kill', async () => {
    const hog = spec('oom', 'exec python3 -c "b = bytearray(200 * 1024 * 1024); print(len(b))"');
    const { exit } = await runToEnd(hog);
    expect(exit.code).not.toBe(0);
    expect(exit.oomKilled).toBe(true);
  });

  it('pipes a stream into stdin, whole and in order, with no startup file of root read on the way', async () => {
    // 6 MiB: more than any pipe buffer, so the copy has to wait for the reader.
    const input = Buffer.alloc(6 * 1024 * 1024, 'x');
    const { lines, exit } = await runToEnd({
      ...spec('stdin', 'wc -c; echo done'),
      stdin: Readable.from([input.subarray(0, 1000), input.subarray(1000)]),
    });
    expect(exit.code).toBe(0);
    // Exactly these lines: a piped stdin is a socket, and a root `bash -c` on a socket would run
    // /root/.bashrc (sshd's rule) unless told --norc.
    expect(lines.map((l) => l.trim())).toEqual([String(input.length), 'done']);
  });

  it('lets the producer of stdin finish when the process exits without reading it', async () => {
    const source = new PassThrough();
    const { exit } = await runToEnd({ ...spec('stdin-early', 'exit 3'), stdin: source });
    expect(exit.code).toBe(3);
    // Writing after the reader is gone neither throws nor blocks: the rest is dropped.
    await pipeline(Readable.from([Buffer.alloc(4 * 1024 * 1024)]), source);
  });

  it('finds the sockets an instance listens on', async () => {
    const printed: string[] = [];
    const proc = await runtime.run(
      spec(
        'listen',
        'exec python3 -c "import socket,time; s=socket.socket(); s.bind((\'127.0.0.1\', 0)); s.listen(); print(s.getsockname()[1], flush=True); time.sleep(30)"',
      ),
      (line) => printed.push(line),
    );
    try {
      // Listening once it printed its port (python's start-up takes seconds on a loaded machine).
      await eventually(() => printed.length > 0, 20_000, 'the port it listens on');
      const sockets = await proc.listening();
      expect(sockets).toHaveLength(1);
      expect(sockets[0]?.address).toBe('127.0.0.1');
    } finally {
      await proc.stop(500);
    }
  });

  it('never hands out a port another instance of the same project holds', async () => {
    // The host cannot see the ports taken inside a project's namespace and hands them out again
    // (a draw in 4 or so repeats among 2,000 here): a new instance given its predecessor's port
    // would fail to listen while its health check reached the predecessor.
    const held = new Set<number>();
    for (let i = 0; i < 2000; i++) {
      const port = await runtime.allocatePort('ports-a');
      expect(held.has(port), `port ${port} handed out twice to one project`).toBe(false);
      held.add(port);
    }
    // Another project's namespace is another: the same numbers are fine there.
    let same = 0;
    for (let i = 0; i < 2000; i++) if (held.has(await runtime.allocatePort('ports-b'))) same++;
    expect(same).toBeGreaterThan(0);
  });

  describe('a sandbox prepared before its command (Runtime.prepare)', () => {
    /** The prepared form of spec(id, …): everything but argv, env and stdin. */
    function prepared(id: string, dir = appDir) {
      const { argv: _argv, env: _env, ...rest } = spec(id, '');
      return runtime.prepare({ ...rest, appDir: dir });
    }

    it('runs the argv and environment it is given later, the words and values exactly', async () => {
      const p = await prepared('prep-run');
      expect(p).not.toBeNull();
      // Set up and waiting: its cgroup holds only root (bwrap) so far, nothing of the project's uid.
      await new Promise((r) => setTimeout(r, 200));
      const waiting = fs.readFileSync(path.join(memoryGroup('prep-run'), 'cgroup.procs'), 'utf8');
      expect(waiting.trim().split('\n').map(Number).map(uidOf)).not.toContain(UID);
      const lines: string[] = [];
      const env = {
        PATH: '/usr/bin:/bin',
        PORT: String(p?.port),
        QUOTE: "it's $HOME `x`",
        PAASTECH_ARGV: 'no',
      };
      const script = 'printf "%s|%s|%s|%s\\n" "$0" "$1" "$QUOTE" "$PORT"; env | grep -c ^PAASTECH_ARGV=';
      const proc = p?.start(['/bin/sh', '-c', script, "a'b", 'c d'], env, (t) => lines.push(t));
      expect((await proc?.exited)?.code).toBe(1);
      expect(lines).toEqual([`a'b|c d|it's $HOME \`x\`|${p?.port}`, '0']);
      expect(p?.usable).toBe(false);
      expect(() => p?.start(['/bin/true'], env, () => {})).toThrow('cannot start');
    });

    it('binds what is at its app directory path once started (a build renames its tree there), no fd leaks', async () => {
      const builds = path.join(stateDir, 'builds');
      const target = path.join(builds, 'v9', 'app');
      fs.mkdirSync(target, { recursive: true, mode: 0o755 });
      const p = await prepared('prep-later', target);
      await new Promise((r) => setTimeout(r, 200));
      expect(p?.usable).toBe(true);
      // What a build does at its end: the placeholder goes, the finished tree is renamed in.
      fs.mkdirSync(path.join(builds, 'v9.tmp', 'app'), { recursive: true, mode: 0o755 });
      fs.writeFileSync(path.join(builds, 'v9.tmp', 'app', 'built.txt'), 'built\n');
      fs.rmSync(path.join(builds, 'v9'), { recursive: true });
      fs.renameSync(path.join(builds, 'v9.tmp'), path.join(builds, 'v9'));
      for (const d of [builds, path.join(builds, 'v9'), target]) fs.chmodSync(d, 0o755);
      const lines: string[] = [];
      const script =
        "cat /app/built.txt; exec python3 -c \"import os; print(sorted(int(f) for f in os.listdir('/proc/self/fd') if os.path.exists('/proc/self/fd/' + f)))\"";
      const proc = p?.start(['/bin/sh', '-c', script], { PATH: '/usr/bin:/bin' }, (t) => lines.push(t));
      expect((await proc?.exited)?.code).toBe(0);
      expect(lines).toEqual(['built', '[0, 1, 2]']);
    });

    it('leaves nothing behind when cancelled unused', async () => {
      const p = await prepared('prep-cancel');
      await new Promise((r) => setTimeout(r, 200));
      const group = memoryGroup('prep-cancel');
      const pids = fs.readFileSync(path.join(group, 'cgroup.procs'), 'utf8').trim().split('\n').map(Number);
      expect(pids.length).toBeGreaterThanOrEqual(1);
      await p?.cancel();
      for (const pid of pids) await until(() => !alive(pid), `pid ${pid} to end`);
      expect(fs.existsSync(group)).toBe(false);
      expect(p?.usable).toBe(false);
    });
  });
});
