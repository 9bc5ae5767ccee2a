// What only the haproxy data plane has: a supervised HAProxy process, slot backends that grow with a
// reload, and no HAProxy left behind.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { startPaastechd } from '@paastech/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { haproxyPaths, serverName } from '../src/haproxy/config.js';
import { RuntimeApi } from '../src/haproxy/runtime.js';
import { haproxyAvailable } from '../src/index.js';
import { Backend, type Echo } from './support/backend.js';
import { type Harness, raw, request, startHarness, waitFor } from './support/harness.js';
import { haproxiesIn } from './support/processes.js';
import { route } from './support/routing-server.js';
import { switchUnderLoad } from './support/switching.js';

describe.skipIf(!haproxyAvailable())('haproxy data plane supervision', () => {
  let h: Harness;
  let a: Backend;
  const instanceAt = async (host: string) => {
    const r = await request(h.port, host, '/echo');
    return r.status === 200 ? (JSON.parse(r.body) as Echo).instance : `status ${r.status}`;
  };

  beforeAll(async () => {
    a = await new Backend('a').start();
    h = await startHarness('haproxy');
    h.routes.setRoutes([
      route({ projectId: 'p1', hostnames: ['one.apps.test'], upstreamAddresses: [a.address] }),
    ]);
    await waitFor(async () => (await instanceAt('one.apps.test')) === 'a', 10_000, 'route');
  });
  afterAll(async () => {
    await h?.stop();
    await a?.stop();
  });

  it.skipIf(!fs.existsSync('/dev/shm') || process.arch !== 'x64')(
    'keeps its ring files in a directory of its own in /dev/shm, recorded in the data dir; a restart makes a new one',
    async () => {
      const record = path.join(h.dataDir, 'router', 'ring.dir');
      const before = fs.readFileSync(record, 'utf8');
      expect(path.dirname(before)).toBe('/dev/shm');
      expect(path.basename(before)).toMatch(/^paastech-router-[A-Za-z0-9]{6}$/);
      expect(fs.statSync(before).mode & 0o777).toBe(0o700);
      expect(fs.readFileSync(path.join(before, 'owner'), 'utf8')).toBe(path.join(h.dataDir, 'router'));
      const cfg = fs.readFileSync(path.join(h.dataDir, 'router', 'haproxy.cfg'), 'utf8');
      const ringFile = /backing-file "([^"]+)"/.exec(cfg)?.[1] as string;
      expect(path.dirname(ringFile)).toBe(before);
      await h.restart();
      const after = fs.readFileSync(record, 'utf8');
      expect(after).not.toBe(before);
      expect(fs.existsSync(before)).toBe(false);
      expect(fs.existsSync(after)).toBe(true);
      await waitFor(async () => (await instanceAt('one.apps.test')) === 'a', 10_000, 'serving again');
    },
  );

  it('writes its configuration under <dataDir>/router/', () => {
    const cfg = fs.readFileSync(`${h.dataDir}/router/haproxy.cfg`, 'utf8');
    expect(cfg).toContain(`bind 127.0.0.1:${h.port}`);
    expect(cfg).toMatch(/stats socket .*haproxy\.sock mode 600 level admin/);
  });

  it('rewrites only the files a change touched: a switch of instances writes haproxy.cfg alone', async () => {
    const dir = `${h.dataDir}/router`;
    const files = () =>
      [
        ...fs.readdirSync(`${dir}/pages`).map((f) => `pages/${f}`),
        ...fs.readdirSync(`${dir}/maps`).map((f) => `maps/${f}`),
        ...fs.readdirSync(dir).filter((f) => f.endsWith('.lua') || f === 'haproxy.cfg'),
      ].filter((f) => !f.endsWith('.tmp'));
    const inodes = () => new Map(files().map((f) => [f, fs.statSync(`${dir}/${f}`).ino]));
    const before = inodes();
    expect(before.size).toBeGreaterThan(5);
    const b = await new Backend('b').start();
    try {
      h.routes.setRoutes([
        route({ projectId: 'p1', hostnames: ['one.apps.test'], upstreamAddresses: [b.address] }),
      ]);
      await waitFor(async () => (await instanceAt('one.apps.test')) === 'b', 10_000, 'switch to b');
      // Each write is a new file renamed into place: a new inode.
      const changed = [...inodes()].filter(([f, ino]) => before.get(f) !== ino).map(([f]) => f);
      expect(changed).toEqual(['haproxy.cfg']);
      expect(fs.readFileSync(`${dir}/haproxy.cfg`, 'utf8')).toContain(b.address);
    } finally {
      h.routes.setRoutes([
        route({ projectId: 'p1', hostnames: ['one.apps.test'], upstreamAddresses: [a.address] }),
      ]);
      await waitFor(async () => (await instanceAt('one.apps.test')) === 'a', 10_000, 'back to a');
      await b.stop();
    }
  });

  // Why haproxy.cfg has no rule for two Host or Content-Length headers, or Content-Length beside
  // Transfer-Encoding: HAProxy's parsers (HTTP/1.1, and HTTP/2 in clear text, which it accepts on the
  // plain listener) refuse or normalise them before any rule runs. `framing` is what the instance
  // (and so every rule before it) sees: the framing header names, or 'refused' when nothing came.
  it.each([
    ['h1', 'two Host headers', ['host', 'other.apps.test'], 'refused'],
    ['h1', 'the same Host twice', ['host', 'one.apps.test'], ''],
    ['h1', 'conflicting Content-Length', ['content-length', '3', 'content-length', '4'], 'refused'],
    ['h1', 'repeated Content-Length', ['content-length', '4', 'content-length', '4'], 'content-length'],
    [
      'h1',
      'Content-Length + Transfer-Encoding',
      ['content-length', '4', 'transfer-encoding', 'chunked'],
      'transfer-encoding',
    ],
    ['h2', 'two Host headers', ['host', 'other.apps.test'], ''],
    ['h2', 'conflicting Content-Length', ['content-length', '3', 'content-length', '4'], 'refused'],
    ['h2', 'repeated Content-Length', ['content-length', '4', 'content-length', '4'], 'content-length'],
    [
      'h2',
      'Content-Length + Transfer-Encoding',
      ['content-length', '4', 'transfer-encoding', 'chunked'],
      'refused',
    ],
  ])(
    '%s: %s reaches the rules with one Host and one framing header at most',
    async (proto, _name, extra, framing) => {
      const url = `/parsed-${proto}-${a.seen.length}`;
      const fields = ['host', 'one.apps.test', ...extra];
      const body = extra.includes('transfer-encoding') && proto === 'h1' ? '4\r\nabcd\r\n0\r\n\r\n' : 'abcd';
      const method = extra.length > 2 || extra[0] === 'content-length' ? 'POST' : 'GET';
      if (proto === 'h1') {
        const head = fields.map((x, i) => (i % 2 === 0 ? `${x}: ` : `${x}\r\n`)).join('');
        const out = await raw(
          h.port,
          `${method} ${url} HTTP/1.1\r\n${head}\r\n${method === 'POST' ? body : ''}`,
          500,
        );
        if (framing === 'refused') expect(out).toMatch(/^HTTP\/1\.1 400 /);
      } else {
        const pairs: Array<[string, string]> = [
          [':method', method],
          [':scheme', 'http'],
          [':path', url],
        ];
        for (let i = 0; i < fields.length; i += 2) pairs.push([fields[i] as string, fields[i + 1] as string]);
        await h2Request(h.port, pairs, method === 'POST' ? body : undefined);
      }
      await new Promise((r) => setTimeout(r, 100));
      const reached = a.seen.filter((x) => x.url === url);
      if (framing === 'refused') {
        expect(reached).toEqual([]);
        return;
      }
      expect(reached).toHaveLength(1);
      const names = (reached[0]?.rawHeaders ?? []).filter((_x, i) => i % 2 === 0).map((x) => x.toLowerCase());
      expect(names.filter((n) => n === 'host')).toEqual(['host']);
      expect(names.filter((n) => n === 'content-length' || n === 'transfer-encoding')).toEqual(
        framing ? [framing] : [],
      );
    },
  );

  // The slot backends' http-after-response rules: HAProxy's own 502 pages (its 503 for a refused
  // connection, too) get the JSON type when asked and lose their marker; an instance's own 502-504
  // pass untouched, even with a forged marker (the frontend deletes it first).
  it('gives its own error pages their status and type; an instance error status passes untouched', async () => {
    const s = net.createServer();
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    const dead = `127.0.0.1:${(s.address() as net.AddressInfo).port}`;
    await new Promise<void>((r) => s.close(() => r()));
    const one = route({ projectId: 'p1', hostnames: ['one.apps.test'], upstreamAddresses: [a.address] });
    h.routes.setRoutes([
      one,
      route({
        projectId: 'pd',
        projectName: 'dead',
        hostnames: ['dead.apps.test'],
        upstreamAddresses: [dead],
      }),
    ]);
    try {
      await waitFor(
        async () => (await request(h.port, 'dead.apps.test')).status === 502,
        10_000,
        'dead route',
      );
      const json = await request(h.port, 'dead.apps.test', '/', { headers: { accept: 'application/json' } });
      expect(json.status).toBe(502);
      expect(json.headers['content-type']).toBe('application/json; charset=utf-8');
      expect(JSON.parse(json.body).detail).toContain('"dead"');
      expect(json.headers['x-paastech-router-error']).toBeUndefined();
      const html = await request(h.port, 'dead.apps.test');
      expect(html.headers['content-type']).toBe('text/html; charset=utf-8');
      expect(html.headers['x-paastech-router-error']).toBeUndefined();
      for (const code of [502, 503, 504]) {
        const r = await request(h.port, 'one.apps.test', `/status?code=${code}`, {
          headers: { accept: 'application/json' },
        });
        expect(r).toMatchObject({ status: code, body: `status ${code}` });
        expect(r.headers['content-type']).toBe('text/plain');
      }
      const forged = await request(h.port, 'one.apps.test', '/hop');
      expect(forged.status).toBe(200);
      expect(forged.headers['x-paastech-router-error']).toBeUndefined();
    } finally {
      h.routes.setRoutes([one]);
      await waitFor(
        async () => (await request(h.port, 'dead.apps.test')).status === 404,
        10_000,
        'dead gone',
      );
    }
  });

  it('restarts HAProxy when it crashes, with the current routes', async () => {
    const [before] = haproxiesIn(h.dataDir);
    expect(before).toBeGreaterThan(0);
    process.kill(before as number, 'SIGKILL');
    // The worker may still answer for a moment after its master died: wait for the new processes.
    await waitFor(() => !haproxiesIn(h.dataDir).includes(before as number), 5_000, 'old haproxy gone');
    await waitFor(async () => (await instanceAt('one.apps.test').catch(() => '')) === 'a', 15_000, 'restart');
    expect(haproxiesIn(h.dataDir)).not.toContain(before);
  });

  it('grows its slot backends (one reload) when more projects than slots have instances', async () => {
    const routes = Array.from({ length: 40 }, (_, i) =>
      route({ projectId: `many${i}`, hostnames: [`many${i}.apps.test`], upstreamAddresses: [a.address] }),
    );
    h.routes.setRoutes(routes);
    // Each HAProxy process reloads on its own: a host is served by all within the same moment.
    for (const i of [39, 0, 17, 33])
      await waitFor(async () => (await instanceAt(`many${i}.apps.test`)) === 'a', 15_000, `many${i}`);
    // Every process runs the new slots and has every host (a connection reaches one of them).
    for (const api of runtimeApis(h.dataDir, 2)) {
      expect(await api.send('show backend')).toMatch(/^s63$/m);
      const hosts = await api.send(`show map ${haproxyPaths(h.dataDir).maps.hosts}`);
      for (const i of [0, 17, 33, 39]) expect(hosts).toMatch(new RegExp(`many${i}\\.apps\\.test s\\d+`));
    }
  });

  it('leaves no HAProxy running once stopped, and ends one a killed router left behind', async () => {
    await h.router.stop();
    expect(haproxiesIn(h.dataDir)).toEqual([]);
    // What a router killed with SIGKILL leaves: its HAProxy processes still running on their
    // configurations (and the directory of their ring files, which this router's stop removed).
    const files = [0, 1].map((i) => haproxyPaths(h.dataDir).process(i));
    const cfg = files[0]?.config as string;
    const ringDir = path.dirname(/backing-file "([^"]+)"/.exec(fs.readFileSync(cfg, 'utf8'))?.[1] ?? cfg);
    fs.mkdirSync(ringDir, { recursive: true, mode: 0o700 });
    const orphans = files.map((f) =>
      spawn('haproxy', ['-W', '-db', '-f', f.config, '-p', f.pidFile], { stdio: 'ignore', detached: true }),
    );
    await waitFor(() => haproxiesIn(h.dataDir).length >= 4, 5_000, 'orphan haproxy');
    const stale = haproxiesIn(h.dataDir);
    await h.restart();
    expect(haproxiesIn(h.dataDir).filter((p) => stale.includes(p))).toEqual([]);
    expect(orphans.every((o) => o.pid !== undefined)).toBe(true);
    await waitFor(async () => (await instanceAt('one.apps.test').catch(() => '')) !== '', 10_000, 'serving');
    if (ringDir.startsWith('/dev/shm/')) fs.rmSync(ringDir, { recursive: true, force: true });
  });

  it('takes HAProxy down with it when the router process is killed (SIGKILL)', async () => {
    const d = await startPaastechd({ role: 'router', env: { PAASTECH_ROUTER_DATAPLANE: 'haproxy' } });
    let ringDir: string | undefined;
    try {
      // The start-up line says which data plane serves, and how many HAProxy processes (one per
      // CPU by default): a master and a worker each.
      const line = /router listening \(data plane haproxy, (\d+) HAProxy process(es)?\)/;
      await waitFor(() => line.test(d.stdout() + d.stderr()), 10_000, 'start-up line');
      const processes = Number(line.exec(d.stdout() + d.stderr())?.[1]);
      expect(processes).toBe(Math.min(os.availableParallelism(), 64));
      await waitFor(
        () => haproxiesIn(d.dataDir).length === 2 * processes,
        10_000,
        'haproxy of paastechd router',
      );
      ringDir = fs.readFileSync(path.join(d.dataDir, 'router', 'ring.dir'), 'utf8');
      await d.stop('SIGKILL');
      await waitFor(() => haproxiesIn(d.dataDir).length === 0, 5_000, 'no orphan haproxy');
    } finally {
      await d.stop('SIGKILL');
      // What a killed router leaves in /dev/shm (a router started later sweeps it: its data dir is gone).
      if (ringDir?.startsWith('/dev/shm/')) fs.rmSync(ringDir, { recursive: true, force: true });
    }
  });
});

describe.skipIf(!haproxyAvailable())('haproxy data plane: switching instances at runtime', () => {
  let h: Harness;
  let a: Backend;
  let b: Backend;
  /**
   * The worker pids of the two HAProxy processes: a reload (which resets the old worker's
   * keep-alive clients) changes them.
   */
  const workerPids = () => Promise.all(runtimeApis(h.dataDir, 2).map((api) => workerPidOf(api)));

  beforeAll(async () => {
    a = await new Backend('a').start();
    b = await new Backend('b').start();
    // Drained servers are swept every 5 ms instead of every second: deletions of a drained
    // instance are tried all along the switches that bring it back (a deletion interleaved with
    // such a switch used to end in "No such server", a failed update and a reload).
    h = await startHarness('haproxy', {}, { haproxySweepMs: 5 });
    h.routes.setRoutes([
      route({ projectId: 'p1', hostnames: ['flip.apps.test'], upstreamAddresses: [a.address] }),
    ]);
    await waitFor(
      async () => (await request(h.port, 'flip.apps.test', '/echo')).status === 200,
      10_000,
      'route',
    );
  });
  afterAll(async () => {
    await h?.stop();
    await a?.stop();
    await b?.stop();
  });

  it('switches 20 times under load through the Runtime API alone: no reload, no failed request', async () => {
    const before = await workerPids();
    expect(before).toEqual([expect.stringMatching(/^\d+$/), expect.stringMatching(/^\d+$/)]);
    const { statuses, errors } = await switchUnderLoad({
      port: h.port,
      host: 'flip.apps.test',
      switchTo: (i) =>
        h.routes.upsert(
          route({
            projectId: 'p1',
            hostnames: ['flip.apps.test'],
            upstreamAddresses: [i % 2 ? a.address : b.address],
          }),
        ),
      switches: 20,
      // Each switch comes back to the instance drained by the previous one while a slow request
      // still holds it.
      pauseMs: () => 250,
      slowMs: 400,
      clients: 16,
      burners: 2,
    });
    expect(errors).toEqual([]);
    expect(statuses.length).toBeGreaterThan(200);
    expect(statuses.filter((s) => s !== 200)).toEqual([]);
    expect(await workerPids()).toEqual(before);
    // The last switch (i = 19) went to `a`: `b` is drained and deleted, `a` alone serves, in every
    // process.
    for (const api of runtimeApis(h.dataDir, 2)) {
      const servers = () => api.send('show servers state s0');
      // Deleted once drained: its last connections close within the drain bound (30 s), most often
      // at once; a busy machine can take seconds.
      await waitFor(async () => !(await servers()).includes(serverName(b.address)), 35_000, 'b deleted');
      expect(await servers()).toContain(serverName(a.address));
    }
  }, 90_000);
});

/** The Runtime APIs of the first `count` HAProxy processes of the router on `dataDir`. */
function runtimeApis(dataDir: string, count: number): RuntimeApi[] {
  return Array.from({ length: count }, (_, i) => new RuntimeApi(haproxyPaths(dataDir).process(i).socket));
}

/** The pid of the worker answering on `api`, if one answers. */
async function workerPidOf(api: RuntimeApi): Promise<string | undefined> {
  return /^Pid: (\d+)/m.exec(await api.send('show info').catch(() => ''))?.[1];
}

describe.skipIf(!haproxyAvailable())('haproxy data plane: one HAProxy process per worker', () => {
  let h: Harness;
  let a: Backend;
  let b: Backend;
  const apis = () => runtimeApis(h.dataDir, 3);
  const echo = async (host: string) => {
    const r = await request(h.port, host, '/echo');
    return r.status === 200 ? (JSON.parse(r.body) as Echo) : undefined;
  };

  beforeAll(async () => {
    a = await new Backend('a').start();
    b = await new Backend('b').start();
    h = await startHarness('haproxy', { PAASTECH_ROUTER_WORKERS: '3' });
    h.routes.setRoutes([
      route({ projectId: 'p1', hostnames: ['one.apps.test'], upstreamAddresses: [a.address] }),
    ]);
    await waitFor(async () => (await echo('one.apps.test'))?.instance === 'a', 10_000, 'route');
  });
  afterAll(async () => {
    await h?.stop();
    await a?.stop();
    await b?.stop();
  });

  it('runs PAASTECH_ROUTER_WORKERS processes of one thread each, all serving the port', async () => {
    const infos = await Promise.all(apis().map((api) => api.send('show info')));
    for (const info of infos) expect(info).toMatch(/^Nbthread: 1$/m);
    expect(new Set(infos.map((i) => /^Pid: (\d+)/m.exec(i)?.[1])).size).toBe(3);
    // New connections are spread over the processes by the kernel (SO_REUSEPORT): the request ids
    // the instance sees carry each process's own prefix.
    const prefixes = new Set<string>();
    for (let i = 0; i < 90 && prefixes.size < 3; i++) {
      const id = (await echo('one.apps.test'))?.headers['x-request-id'];
      prefixes.add(String(id).split('-')[0] as string);
    }
    expect(prefixes.size).toBe(3);
  });

  it('takes every route change in every process, through its Runtime API (no reload)', async () => {
    const pids = await Promise.all(apis().map((api) => workerPidOf(api)));
    h.routes.setRoutes([
      route({ projectId: 'p1', hostnames: ['one.apps.test'], upstreamAddresses: [b.address] }),
      route({ projectId: 'p2', hostnames: ['two.apps.test'], upstreamAddresses: [a.address] }),
    ]);
    for (const api of apis()) {
      await waitFor(
        async () =>
          /one\.apps\.test s\d+\n[\s\S]*two\.apps\.test s\d+/.test(
            await api.send(`show map ${haproxyPaths(h.dataDir).maps.hosts}`),
          ),
        10_000,
        'hosts map',
      );
      await waitFor(
        async () => {
          const state = await api.send('show servers state');
          return state.includes(serverName(b.address)) && state.includes(serverName(a.address));
        },
        10_000,
        'servers',
      );
    }
    for (let i = 0; i < 30; i++) expect((await echo('one.apps.test'))?.instance).toBe('b');
    for (let i = 0; i < 10; i++) expect((await echo('two.apps.test'))?.instance).toBe('a');
    expect(await Promise.all(apis().map((api) => workerPidOf(api)))).toEqual(pids);
  });

  it('restarts a crashed process alone, on the current table, while the others serve', async () => {
    const pids = await Promise.all(apis().map((api) => workerPidOf(api)));
    const files = haproxyPaths(h.dataDir).process(1);
    const master = Number(fs.readFileSync(files.pidFile, 'utf8'));
    process.kill(master, 'SIGKILL');
    process.kill(Number(pids[1]), 'SIGKILL');
    // The table changes while it is down: it must come back with the table of then.
    h.routes.setRoutes([
      route({ projectId: 'p1', hostnames: ['one.apps.test'], upstreamAddresses: [b.address] }),
      route({ projectId: 'p2', hostnames: ['two.apps.test'], upstreamAddresses: [a.address] }),
      route({ projectId: 'p3', hostnames: ['three.apps.test'], upstreamAddresses: [a.address] }),
    ]);
    // The two others serve meanwhile: the kernel sends new connections to the sockets still bound.
    const statuses: number[] = [];
    const restarted = async () => {
      const pid = await workerPidOf(apis()[1] as RuntimeApi);
      return pid !== undefined && pid !== pids[1];
    };
    for (let i = 0; i < 200 && !(await restarted()); i++) {
      statuses.push((await request(h.port, 'one.apps.test', '/echo')).status);
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(await restarted()).toBe(true);
    expect(statuses.length).toBeGreaterThan(0);
    expect(statuses.filter((s) => s !== 200)).toEqual([]);
    // The restarted one has the current table; the others took the change without a reload.
    for (const api of apis())
      await waitFor(
        async () =>
          /three\.apps\.test s\d+/.test(await api.send(`show map ${haproxyPaths(h.dataDir).maps.hosts}`)),
        10_000,
        'three.apps.test in every process',
      );
    expect(await (apis()[1] as RuntimeApi).send('show servers state')).toContain(serverName(b.address));
    const after = await Promise.all(apis().map((api) => workerPidOf(api)));
    expect([after[0], after[2]]).toEqual([pids[0], pids[2]]);
  });

  it('removes the files of processes it no longer runs when started with fewer', async () => {
    const dir = path.join(h.dataDir, 'router');
    expect(fs.existsSync(path.join(dir, 'haproxy.2.cfg'))).toBe(true);
    await h.router.stop();
    expect(haproxiesIn(h.dataDir)).toEqual([]);
    // The same data dir (and so this suite's route server), one process.
    const fewer = await startHarness('haproxy', {
      PAASTECH_ROUTER_WORKERS: '1',
      PAASTECH_DATA_DIR: h.dataDir,
    });
    try {
      expect(fs.readdirSync(dir).filter((f) => /^haproxy\.\d+\./.test(f))).toEqual([]);
      expect(haproxiesIn(h.dataDir)).toHaveLength(2);
    } finally {
      // Its own temporary directory holds only its contract server's socket.
      await fewer.stop();
    }
    await h.restart();
  });
});

/** HPACK "literal header field without indexing, new name" (no Huffman; names and values < 128). */
function hpackLiteral(name: string, value: string): Buffer {
  return Buffer.concat([
    Buffer.from([0, name.length]),
    Buffer.from(name),
    Buffer.from([value.length]),
    Buffer.from(value),
  ]);
}

/** One HTTP/2 frame. */
function h2Frame(type: number, flags: number, stream: number, payload: Buffer): Buffer {
  const head = Buffer.alloc(9);
  head.writeUIntBE(payload.length, 0, 3);
  head[3] = type;
  head[4] = flags;
  head.writeUInt32BE(stream, 5);
  return Buffer.concat([head, payload]);
}

/**
 * Sends one HTTP/2 request in clear text (prior knowledge) with exactly the header fields given,
 * repeated ones included (Node's http2 client refuses to send those); waits for HAProxy's answer.
 */
async function h2Request(port: number, fields: Array<[string, string]>, body?: string): Promise<void> {
  const block = Buffer.concat(fields.map(([n, v]) => hpackLiteral(n, v)));
  const socket = net.connect(port, '127.0.0.1');
  socket.on('error', () => undefined);
  socket.write(
    Buffer.concat([
      Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'),
      h2Frame(4, 0, 0, Buffer.alloc(0)), // SETTINGS
      h2Frame(1, body === undefined ? 5 : 4, 1, block), // HEADERS, END_HEADERS (+ END_STREAM)
      ...(body === undefined ? [] : [h2Frame(0, 1, 1, Buffer.from(body))]), // DATA, END_STREAM
    ]),
  );
  await new Promise((r) => setTimeout(r, 400));
  socket.destroy();
}
