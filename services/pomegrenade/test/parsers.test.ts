// Pure helpers: release YAML of buildpacks, buildpack URLs, /proc/net/tcp addresses, diagnoses,
// config var masking, and the cgroup v1/v2 adapters on fake hierarchies.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { isRealDirInside } from '../src/build/builders.js';
import { installedBuildpacks, parseBuildpackUrl, parseReleaseYaml } from '../src/build/buildpack.js';
import { smallTreeBytes } from '../src/build/files.js';
import { readPomegrenadeConfig } from '../src/config.js';
import { masker } from '../src/domain/build-runner.js';
import { diagnose } from '../src/domain/health.js';
import { detectCgroups } from '../src/runtime/cgroups.js';
import { decodeProcAddress } from '../src/runtime/net.js';

describe('parseReleaseYaml', () => {
  it.each([
    [
      'typical',
      '---\naddons: []\ndefault_process_types:\n  web: node server.js\n',
      { web: 'node server.js' },
    ],
    [
      'quoted',
      'default_process_types:\n  web: "bin/start -p $PORT"\n  worker: \'bin/w\'\n',
      { web: 'bin/start -p $PORT', worker: 'bin/w' },
    ],
    ['other keys after', 'default_process_types:\n  web: a\nconfig_vars:\n  X: y\n', { web: 'a' }],
    ['none', '---\naddons: []\n', {}],
    ['empty', '', {}],
    ['junk', '::::\n  -- : x\n', {}],
  ])('%s', (_n, text, expected) => {
    expect(parseReleaseYaml(text)).toEqual(expected);
  });
});

describe('parseBuildpackUrl', () => {
  it.each([
    ['custom-buildpack', { kind: 'installed', name: 'custom-buildpack' }],
    ['0', { kind: 'installed', name: '0' }],
    ['a'.repeat(63), { kind: 'installed', name: 'a'.repeat(63) }],
    [
      'https://github.com/heroku/heroku-buildpack-nodejs',
      { kind: 'git', url: 'https://github.com/heroku/heroku-buildpack-nodejs' },
    ],
    ['https://example.com/bp.git#v1.2', { kind: 'git', url: 'https://example.com/bp.git', ref: 'v1.2' }],
  ])('accepts %s', (url, expected) => {
    expect(parseBuildpackUrl(url)).toEqual(expected);
  });

  const SHAPE = 'must be the name of an installed buildpack or an https:// git URL';
  it.each([
    // No host path, absolute or relative, is a buildpack.
    ['/opt/buildpacks/node', SHAPE],
    ['/opt/bp/', SHAPE],
    ['/opt/../etc', SHAPE],
    ['..', SHAPE],
    ['../etc', SHAPE],
    ['node/../../etc', SHAPE],
    ['Node', SHAPE],
    ['-node', SHAPE],
    ['a'.repeat(64), SHAPE],
    ['node\n', SHAPE],
    ['http://example.com/bp', SHAPE],
    ['https://user:pass@example.com/bp.git', SHAPE],
    ['https://example.com/bp;rm -rf /', SHAPE],
    ['https://ex.com/a#b#c', SHAPE],
    ['https://ex.com/a#-b', 'must be a branch or tag name'],
    ['https://ex.com/a#a..b', 'must be a branch or tag name'],
    ['file:///etc', SHAPE],
  ])('refuses %j', (url, message) => {
    expect(() => parseBuildpackUrl(url)).toThrow(message);
  });
});

describe('installedBuildpacks and PAASTECH_BUILDPACKS_DIR', () => {
  it('lists the valid names with a bin/compile, sorted; a missing directory has none', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bps-'));
    for (const name of ['zeta', 'alpha', 'Upper', 'no-compile', '.hidden']) {
      fs.mkdirSync(path.join(dir, name, 'bin'), { recursive: true });
      if (name !== 'no-compile') fs.writeFileSync(path.join(dir, name, 'bin', 'compile'), '');
    }
    expect(installedBuildpacks(dir)).toEqual(['alpha', 'zeta']);
    expect(installedBuildpacks(path.join(dir, 'missing'))).toEqual([]);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('defaults to <data dir>/buildpacks; must be absolute', () => {
    expect(readPomegrenadeConfig({ PAASTECH_DATA_DIR: '/srv/pt' }).buildpacksDir).toBe('/srv/pt/buildpacks');
    expect(readPomegrenadeConfig({ PAASTECH_BUILDPACKS_DIR: '/opt/bps' }).buildpacksDir).toBe('/opt/bps');
    expect(() => readPomegrenadeConfig({ PAASTECH_BUILDPACKS_DIR: 'bps' })).toThrow(
      /PAASTECH_BUILDPACKS_DIR.*must be an absolute path/,
    );
  });
});

describe('decodeProcAddress', () => {
  it.each([
    ['0100007F:0BB8', { address: '127.0.0.1', port: 3000 }],
    ['00000000:1F90', { address: '0.0.0.0', port: 8080 }],
    ['00000000000000000000000000000000:0050', { address: '::', port: 80 }],
    ['00000000000000000000000001000000:0050', { address: '::1', port: 80 }],
  ])('%s', (hex, expected) => {
    expect(decodeProcAddress(hex)).toEqual(expected);
  });
});

describe('diagnose', () => {
  const base = {
    instance: 'web.1',
    port: 40000,
    memoryLimitBytes: 256 * 1024 * 1024,
    listening: [],
    timeoutSeconds: 60,
  };
  it.each([
    [
      'out of memory',
      { exit: { code: null, signal: 'SIGKILL', oomKilled: true } },
      'web.1 ran out of memory (limit 256 MiB) while starting',
    ],
    [
      'exit code',
      { exit: { code: 1, signal: null, oomKilled: false } },
      'web.1 crashed on start: exited with code 1',
    ],
    [
      'signal',
      { exit: { code: null, signal: 'SIGSEGV', oomKilled: false } },
      'web.1 crashed on start: was killed by SIGSEGV',
    ],
    [
      'wrong port',
      { listening: [{ address: '127.0.0.1', port: 3000 }] },
      'web.1 listens on 127.0.0.1:3000, not on the port in $PORT (40000): read the port from the PORT environment variable',
    ],
    [
      'unreachable address',
      { listening: [{ address: '10.1.2.3', port: 40000 }] },
      'web.1 listens on 10.1.2.3:40000, which the router cannot reach: listen on 0.0.0.0 (all interfaces) and the port in $PORT',
    ],
    ['not listening', {}, 'web.1 did not listen on the port in $PORT (40000) within 60s'],
    [
      'answers 500',
      { listening: [{ address: '0.0.0.0', port: 40000 }], lastProbe: 'GET / answered 500' },
      'health check on web.1 failed for 60s: GET / answered 500',
    ],
  ])('%s', (_n, extra, message) => {
    expect(diagnose({ ...base, ...extra }).message).toBe(message);
  });
});

describe('masker', () => {
  it('hides every config value of 4+ characters, longest first', () => {
    const mask = masker({ A: 'secret', B: 'secret-longer', C: 'abc' });
    expect(mask('x secret-longer y secret z abc')).toBe('x [hidden] y [hidden] z abc');
  });

  it('hides each line of a multi-line value, since output is masked line by line', () => {
    const key =
      '-----BEGIN KEY-----\r\nMIIEvQIBADANBgkqhkiG9w0B\nAQEFAASCBKcwggSjAgEAAoIB\n-----END KEY-----';
    const mask = masker({ KEY: key, EMPTY_LINES: 'a\n\n  \nbcde' });
    expect(mask('printing MIIEvQIBADANBgkqhkiG9w0B')).toBe('printing [hidden]');
    expect(mask('AQEFAASCBKcwggSjAgEAAoIB done')).toBe('[hidden] done');
    expect(mask(key)).toBe('[hidden]');
    expect(mask('a b c')).toBe('a b c');
  });
});

describe('cgroups on fake hierarchies', () => {
  const limits = { memoryBytes: 1 << 26, cpuMillicores: 500, maxProcesses: 64, diskBytes: 0 };

  it('v1: one directory per controller, limits written, destroy removes the groups', async () => {
    const mount = fs.mkdtempSync(path.join(os.tmpdir(), 'cg1-'));
    for (const c of ['memory', 'pids', 'cpu', 'cpuacct']) {
      fs.mkdirSync(path.join(mount, c));
      fs.writeFileSync(path.join(mount, c, 'cgroup.procs'), '');
    }
    const cg = detectCgroups('paastech-x', mount);
    expect(cg?.version).toBe(1);
    const files = cg?.create('proj/web', limits) ?? [];
    expect(files).toHaveLength(4);
    expect(
      fs.readFileSync(path.join(mount, 'memory/paastech-x/proj/web/memory.limit_in_bytes'), 'utf8'),
    ).toBe(String(1 << 26));
    expect(fs.readFileSync(path.join(mount, 'pids/paastech-x/proj/web/pids.max'), 'utf8')).toBe('64');
    expect(fs.readFileSync(path.join(mount, 'cpu/paastech-x/proj/web/cpu.cfs_quota_us'), 'utf8')).toBe(
      '5000',
    );
    // No cpu.cfs_burst_us on this tree (a kernel before 5.14): none is written.
    expect(fs.existsSync(path.join(mount, 'cpu/paastech-x/proj/web/cpu.cfs_burst_us'))).toBe(false);
    expect(cg?.list()).toEqual(['proj/web', 'proj']);
    // A real cgroupfs has no files to remove; on the fake tree only the emptied dirs can go.
    for (const c of ['memory', 'pids', 'cpu', 'cpuacct']) {
      for (const f of fs.readdirSync(path.join(mount, c, 'paastech-x/proj/web')))
        fs.rmSync(path.join(mount, c, 'paastech-x/proj/web', f));
    }
    await cg?.destroy('proj/web');
    expect(fs.existsSync(path.join(mount, 'memory/paastech-x/proj'))).toBe(false);
  });

  it('v2: one unified tree, controllers delegated, memory.max/pids.max/cpu.max written, oom from memory.events', () => {
    const mount = fs.mkdtempSync(path.join(os.tmpdir(), 'cg2-'));
    fs.writeFileSync(path.join(mount, 'cgroup.controllers'), 'cpu memory pids');
    const cg = detectCgroups('paastech-y', mount);
    expect(cg?.version).toBe(2);
    expect(cg?.create('proj/web', limits)).toEqual([path.join(mount, 'paastech-y/proj/web/cgroup.procs')]);
    const group = path.join(mount, 'paastech-y/proj/web');
    expect(fs.readFileSync(path.join(group, 'memory.max'), 'utf8')).toBe(String(1 << 26));
    expect(fs.readFileSync(path.join(group, 'pids.max'), 'utf8')).toBe('64');
    expect(fs.readFileSync(path.join(group, 'cpu.max'), 'utf8')).toBe('5000 10000');
    expect(fs.readFileSync(path.join(mount, 'paastech-y/proj/cgroup.subtree_control'), 'utf8')).toBe('+cpu');
    expect(cg?.oomKilled('proj/web')).toBe(false);
    fs.writeFileSync(path.join(group, 'memory.events'), 'low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n');
    expect(cg?.oomKilled('proj/web')).toBe(true);
    fs.writeFileSync(path.join(group, 'memory.current'), '12345');
    fs.writeFileSync(path.join(group, 'cpu.stat'), 'usage_usec 777\nuser_usec 700\n');
    expect(cg?.usage('proj/web')).toEqual({ memoryBytes: 12345, cpuMicros: 777 });
  });

  it('CPU burst equal to the quota where the kernel has it (v1 cpu.cfs_burst_us, v2 cpu.max.burst)', () => {
    const v1 = fs.mkdtempSync(path.join(os.tmpdir(), 'cgb1-'));
    for (const c of ['memory', 'pids', 'cpu', 'cpuacct']) {
      fs.mkdirSync(path.join(v1, c));
      fs.writeFileSync(path.join(v1, c, 'cgroup.procs'), '');
    }
    const g1 = path.join(v1, 'cpu/paastech-b/proj/web');
    fs.mkdirSync(g1, { recursive: true });
    // Left by an earlier group of the same path: above the new quota, so it is lowered first.
    fs.writeFileSync(path.join(g1, 'cpu.cfs_burst_us'), '900000');
    detectCgroups('paastech-b', v1)?.create('proj/web', limits);
    expect(fs.readFileSync(path.join(g1, 'cpu.cfs_burst_us'), 'utf8')).toBe('5000');
    const v2 = fs.mkdtempSync(path.join(os.tmpdir(), 'cgb2-'));
    fs.writeFileSync(path.join(v2, 'cgroup.controllers'), 'cpu memory pids');
    const g2 = path.join(v2, 'paastech-b/proj/web');
    fs.mkdirSync(g2, { recursive: true });
    fs.writeFileSync(path.join(g2, 'cpu.max.burst'), '0');
    detectCgroups('paastech-b', v2)?.create('proj/web', limits);
    expect(fs.readFileSync(path.join(g2, 'cpu.max.burst'), 'utf8')).toBe('5000');
    expect(fs.readFileSync(path.join(g2, 'cpu.max'), 'utf8')).toBe('5000 10000');
  });

  it('neither: null', () => {
    expect(detectCgroups('x', fs.mkdtempSync(path.join(os.tmpdir(), 'cg0-')))).toBeNull();
  });
});

describe('isRealDirInside (the build cache is written by apps, copied from as root)', () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'cache-'));
  const outside = fs.mkdtempSync(path.join(os.tmpdir(), 'host-'));
  fs.mkdirSync(path.join(root, 'node_modules', 'good', 'node_modules'), { recursive: true });
  fs.mkdirSync(path.join(outside, 'node_modules'), { recursive: true });
  fs.symlinkSync(outside, path.join(root, 'node_modules', 'planted'));
  fs.mkdirSync(path.join(root, 'node_modules', 'inner'), { recursive: true });
  fs.symlinkSync(
    path.join(outside, 'node_modules'),
    path.join(root, 'node_modules', 'inner', 'node_modules'),
  );
  fs.writeFileSync(path.join(root, 'node_modules', 'file'), 'x');

  it.each([
    ['a real directory tree', 'node_modules/good/node_modules', true],
    ['a symlinked middle component', 'node_modules/planted/node_modules', false],
    ['a symlinked last component', 'node_modules/inner/node_modules', false],
    ['a file', 'node_modules/file', false],
    ['a missing path', 'node_modules/none/node_modules', false],
    ['the root itself', '', false],
    ['outside the root', '../x', false],
  ])('%s → %s', (_what, rel, expected) => {
    expect(isRealDirInside(root, path.join(root, rel))).toBe(expected);
  });
});

describe('smallTreeBytes (an artifact size without a du process)', () => {
  it('counts what du -sb counts: directories, symlinks unfollowed, hard links once', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stb-'));
    try {
      fs.mkdirSync(path.join(dir, 'a', 'b'), { recursive: true });
      fs.writeFileSync(path.join(dir, 'x'), 'hello\n');
      fs.linkSync(path.join(dir, 'x'), path.join(dir, 'a', 'x-again'));
      fs.symlinkSync('/etc/passwd', path.join(dir, 'a', 'b', 'link'));
      fs.writeFileSync(path.join(dir, 'a', 'b', 'big'), Buffer.alloc(12_345));
      const du = Number(execFileSync('du', ['-sb', '--', dir], { encoding: 'utf8' }).split('\t')[0]);
      expect(smallTreeBytes(dir, 100)).toBe(du);
      // Seven entries (the directory itself included): counted at a bound of 7; over it, the caller asks du.
      expect(smallTreeBytes(dir, 7)).toBe(du);
      expect(smallTreeBytes(dir, 6)).toBeNull();
      expect(smallTreeBytes(dir, 4)).toBeNull();
      // A directory far over the bound is given up on without being listed whole.
      const many = path.join(dir, 'many');
      fs.mkdirSync(many);
      for (let i = 0; i < 3000; i++) fs.writeFileSync(path.join(many, String(i)), '');
      expect(smallTreeBytes(dir, 100)).toBeNull();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
