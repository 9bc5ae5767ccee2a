// The hostile-app suite: a real Pomegrenade (LocalRuntime with network namespaces, seccomp, cgroup
// limits) deploys a neighbour app and an attacker (e2e/fixtures/hostile/attacker). The attacker
// tries every escape from inside its build and its running instance and reports what it achieved;
// every attempt must fail. Then it stresses the machine (fork bomb, memory hog, CPU hog, disk fill)
// while the neighbour's p99 latency is measured against its baseline. Set PAASTECH_SECURITY_TABLE
// to a file path to get the results as the markdown table of docs/security.md.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { internalMetadata } from '@paastech/kit';
import type { deploy } from '@paastech/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { projectNames } from '../src/isolation/addresses.js';
import { listTables } from '../src/isolation/firewall.js';
import { fixture } from './support/git-server.js';
import { type Harness, httpGet, startHarness } from './support/pomegrenade.js';

const ATTACKER = path.resolve(import.meta.dirname, '../../../e2e/fixtures/hostile/attacker');
const MARKER = `neighbour-secret-${Date.now()}`;
const MiB = 1024 * 1024;
const LIMITS = { memoryBytes: 256 * MiB, cpuMillicores: 500, maxProcesses: 64, diskBytes: 32 * MiB };

interface Attempt {
  attempt: string;
  achieved: boolean;
  detail: string;
}

let h: Harness;
let hostService: net.Server;
let hostPort = 0;
let neighbour = '';
let attacker = '';
const table: { where: string; attempt: string; outcome: string }[] = [];

/** Host IPv4 addresses, except other tests' instance veths. */
function hostAddresses(): string[] {
  return Object.entries(os.networkInterfaces())
    .filter(([name]) => !name.startsWith('pt-'))
    .flatMap(([, a]) => a ?? [])
    .filter((a) => a.family === 'IPv4')
    .map((a) => a.address);
}

/** Files under `dir` (recursively) named `name`. */
function findFiles(dir: string, name: string): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true, recursive: true }))
    if (e.name === name && e.isFile()) out.push(path.join(e.parentPath, e.name));
  return out;
}

/** What the attacker aims at: the best information a test can give it. */
function targets(): Record<string, unknown> {
  const d = h.dataDir;
  return {
    files: [
      ...findFiles(path.join(d, 'pomegrenade'), 'server.js').filter((f) => f.includes('neighbour')),
      path.join(d, 'keys', 'internal-secret'),
      '/etc/shadow',
      '/root/.ssh/id_rsa',
    ],
    dirs: [
      d,
      path.join(d, 'pomegrenade'),
      path.join(d, 'keys'),
      path.join(d, 'test-repos'),
      '/root',
      '/home',
    ],
    envMarkerHex: Buffer.from(MARKER).toString('hex'),
    platformMarker: 'vitest',
    hosts: ['127.0.0.1', ...hostAddresses()],
    // The stand-in for the API/router/git ports, PostgreSQL, SSH and the usual service ports.
    ports: [hostPort, 5432, 22, 2222, 3000, 3001, 8080],
    sockets: socketsUnder(d),
    neighbour,
  };
}

/** Unix sockets under the data dir (the platform's gRPC endpoints). */
function socketsUnder(dir: string): string[] {
  return fs
    .readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isSocket())
    .map((e) => path.join(e.parentPath, e.name));
}

/** p99 of `n` GETs of the neighbour, `concurrency` at a time, in ms. */
async function p99(n = 400, concurrency = 4): Promise<number> {
  const times: number[] = [];
  let left = n;
  const worker = async () => {
    while (left-- > 0) {
      const t0 = performance.now();
      const r = await httpGet(neighbour);
      times.push(performance.now() - t0);
      expect(r.status).toBe(200);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length * 0.99)] ?? Number.POSITIVE_INFINITY;
}

/** Pids whose memory cgroup is one of `projectId`'s. */
function projectPids(projectId: string): number[] {
  return fs
    .readdirSync('/proc')
    .filter((p) => /^\d+$/.test(p))
    .filter((p) => {
      try {
        return new RegExp(`:memory:/paastech-[0-9a-f]+/${projectId}/`).test(
          fs.readFileSync(`/proc/${p}/cgroup`, 'utf8'),
        );
      } catch {
        return false;
      }
    })
    .map(Number);
}

/** Polls `check` until it holds or `ms` pass. */
async function until(check: () => boolean | Promise<boolean>, what: string, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The project's last log lines. */
function logs(projectId: string, tail = 200): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const lines: string[] = [];
    const call = h.client.streamLogs(
      { projectId, follow: false, sources: [], tailLines: tail },
      internalMetadata(h.env.PAASTECH_INTERNAL_SECRET as string),
    );
    call.on('data', (m: deploy.StreamLogsResponse) =>
      lines.push(...m.lines.map((l) => `${l.source}: ${l.text}`)),
    );
    call.on('end', () => resolve(lines));
    call.on('error', reject);
  });
}

/** Deploys the attacker (v`n`) with the targets in its build environment. */
async function deployAttacker(n: number): Promise<string[]> {
  const commit = await h.repo('attacker').commitFixture(ATTACKER);
  const { deployment, lines } = await h.deploy('attacker', n, commit, {
    configVars: { TARGETS: JSON.stringify(targets()) },
    limits: LIMITS,
  });
  expect(deployment.failure?.message, lines.join('\n')).toBeUndefined();
  attacker = h.routes.upstreams('attacker')[0] as string;
  return lines;
}

/** Records results for the table and returns the achieved ones. */
function record(where: string, results: Attempt[]): Attempt[] {
  for (const r of results)
    table.push({ where, attempt: r.attempt, outcome: `${r.achieved ? 'ACHIEVED' : 'failed'}: ${r.detail}` });
  return results.filter((r) => r.achieved);
}

beforeAll(async () => {
  hostService = net.createServer((s) => s.end('platform'));
  await new Promise<void>((r) => hostService.listen(0, '0.0.0.0', r));
  hostPort = (hostService.address() as net.AddressInfo).port;
  h = await startHarness({ PAASTECH_APP_UID_BASE: '262000', PAASTECH_STOP_GRACE_SECONDS: '1' });
  const commit = await h.repo('neighbour').commitFixture(fixture('node-hello'));
  const n = await h.deploy('neighbour', 1, commit, { configVars: { GREETING: MARKER } });
  expect(n.deployment.failure?.message).toBeUndefined();
  neighbour = h.routes.upstreams('neighbour')[0] as string;
}, 120_000);

afterAll(async () => {
  const file = process.env.PAASTECH_SECURITY_TABLE;
  if (file) {
    const rows = table.map((r) => `| ${r.where} | ${r.attempt} | ${r.outcome.replaceAll('|', '\\|')} |`);
    fs.writeFileSync(file, ['| from | attempt | outcome |', '|---|---|---|', ...rows, ''].join('\n'));
  }
  await h?.stop();
  hostService?.close();
});

describe('hostile app', () => {
  it('achieves nothing from inside its build', async () => {
    const lines = await deployAttacker(1);
    const line = lines.find((l) => l.includes('HOSTILE-BUILD-RESULTS '));
    expect(line, lines.join('\n')).toBeDefined();
    const results = JSON.parse(line?.slice(line.indexOf('HOSTILE-BUILD-RESULTS ') + 22) ?? '[]') as Attempt[];
    expect(results.length).toBeGreaterThanOrEqual(15);
    expect(record('build', results)).toEqual([]);
  }, 120_000);

  it('achieves nothing from inside its running instance', async () => {
    // The host service is really there: the platform reaches it, the attacker must not.
    expect(await new Promise((r) => net.connect(hostPort, '127.0.0.1').on('data', (d) => r(String(d))))).toBe(
      'platform',
    );
    const res = await fetch(
      `http://${attacker}/attempts?targets=${encodeURIComponent(JSON.stringify(targets()))}`,
      {
        signal: AbortSignal.timeout(50_000),
      },
    );
    const results = (await res.json()) as Attempt[];
    expect(results.length).toBeGreaterThanOrEqual(15);
    expect(record('instance', results)).toEqual([]);
  }, 60_000);

  describe('limits hold and the neighbour keeps its latency', () => {
    let version = 1;

    beforeAll(async () => {
      await p99(100);
    }, 60_000);

    /**
     * Runs `kind` in the attacker, then `check`, then replaces the attacker; the neighbour's p99
     * during the stress must stay within 2× its baseline. The machine runs other work too, so the
     * baseline is the worse of the p99 just before the stress and just after it ended.
     */
    async function underStress(
      kind: string,
      check: (stress: Record<string, unknown>) => Promise<void>,
    ): Promise<void> {
      const before = await p99();
      const res = await fetch(`http://${attacker}/stress/${kind}`, {
        method: 'POST',
        signal: AbortSignal.timeout(20_000),
      })
        .then((r) => r.json() as Promise<Record<string, unknown>>)
        .catch((err: Error) => ({ error: err.message }));
      let during = Number.POSITIVE_INFINITY;
      try {
        await new Promise((r) => setTimeout(r, 500));
        // Three windows while the stress runs, the best one compared: load from outside this test
        // (the rest of the suite shares two cores) only ever adds latency, whereas a stress that hurt
        // the neighbour would slow every window.
        during = Math.min(await p99(), await p99(), await p99());
        await check(res);
      } finally {
        version += 1;
        await deployAttacker(version);
      }
      const after = await p99();
      const baseline = Math.max(before, after);
      table.push({
        where: 'instance',
        attempt: kind,
        outcome: `${JSON.stringify(res)}; neighbour p99 ${during.toFixed(1)} ms (baseline ${baseline.toFixed(1)} ms)`,
      });
      // 2× the baseline, with 5 ms of slack for timer and scheduling noise on a few-ms baseline.
      expect(during).toBeLessThanOrEqual(Math.max(2 * baseline, baseline + 5));
    }

    it('fork bomb: stays inside its pids limit', async () => {
      await underStress('forkbomb', async () => {
        expect(projectPids('attacker').length).toBeLessThanOrEqual(LIMITS.maxProcesses);
      });
    }, 120_000);

    it('CPU hog: gets no more than its CPU share', async () => {
      await underStress('cpuhog', async () => {
        const group = fs
          .readdirSync('/sys/fs/cgroup/cpuacct')
          .filter((n) => n.startsWith('paastech-'))
          .flatMap((n) => {
            const dir = `/sys/fs/cgroup/cpuacct/${n}/attacker`;
            return fs.existsSync(dir) ? [dir] : [];
          })[0] as string;
        const usage = () => Number(fs.readFileSync(`${group}/cpuacct.usage`, 'utf8'));
        const u0 = usage();
        const t0 = process.hrtime.bigint();
        await new Promise((r) => setTimeout(r, 2000));
        const cores = (usage() - u0) / Number(process.hrtime.bigint() - t0);
        table.push({
          where: 'instance',
          attempt: 'cpuhog (measured)',
          outcome: `${cores.toFixed(2)} cores used, limit ${LIMITS.cpuMillicores / 1000}`,
        });
        expect(cores).toBeLessThanOrEqual((LIMITS.cpuMillicores / 1000) * 1.1);
      });
    }, 120_000);

    it('disk fill: ENOSPC at its quota, the platform keeps working', async () => {
      await underStress('diskfill', async (stress) => {
        expect(stress.code).toBe('ENOSPC');
        expect(Number(stress.bytes)).toBeLessThanOrEqual(LIMITS.diskBytes);
        expect((await httpGet(neighbour)).status).toBe(200);
      });
    }, 120_000);

    it('memory hog: OOM-killed inside its cgroup, reported, restarted', async () => {
      await underStress('memhog', async () => {
        await until(
          async () => (await logs('attacker')).some((l) => l.includes('out of memory')),
          'out of memory in logs',
        );
        await until(async () => {
          const r = await httpGet(h.routes.upstreams('attacker')[0] ?? attacker).catch(() => ({ status: 0 }));
          return r.status === 200;
        }, 'attacker restarted');
      });
    }, 120_000);
  });

  it('leaves nothing behind once deleted, a process that ignores SIGTERM included', async () => {
    const r = await fetch(`http://${h.routes.upstreams('attacker')[0]}/linger`, { method: 'POST' });
    expect(r.status).toBe(200);
    await until(() => projectPids('attacker').length >= 3, 'lingering process');
    await h.call('deleteProject', { projectId: 'attacker' });
    await until(() => projectPids('attacker').length === 0, 'no attacker process');
    // Its network: namespace, veth, firewall table and address reservation.
    const tag = `paastech-${createHash('sha256').update(path.join(h.dataDir, 'pomegrenade')).digest('hex').slice(0, 10)}`;
    const names = projectNames(tag, 'attacker');
    expect(fs.existsSync(`/run/netns/${names.netns}`)).toBe(false);
    expect(fs.existsSync(`/sys/class/net/${names.hostIf}`)).toBe(false);
    expect(await listTables(names.table)).toEqual([]);
    const reservations = fs
      .readdirSync('/run/paastech/net-slots')
      .map((f) => fs.readFileSync(`/run/paastech/net-slots/${f}`, 'utf8'))
      .filter((s) => s.includes(names.netns));
    expect(reservations).toEqual([]);
    const groups = ['memory', 'pids', 'cpu'].flatMap((c) =>
      fs
        .readdirSync(`/sys/fs/cgroup/${c}`)
        .filter((n) => n.startsWith('paastech-') && fs.existsSync(`/sys/fs/cgroup/${c}/${n}/attacker`)),
    );
    expect(groups).toEqual([]);
    expect(fs.existsSync(path.join(h.dataDir, 'pomegrenade', 'projects', 'attacker'))).toBe(false);
  }, 60_000);
});
