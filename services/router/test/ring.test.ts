// The haproxy plane's access log through HAProxy's memory ring: lines parsed strictly, every request
// counted and written to access.log, across a crash and restart and a reload of HAProxy, a broken
// stream attached again, and a soft-stopping worker let go once its requests are done.
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { createLogger } from '@paastech/kit';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ACCESS_LOG_FORMAT, ACCESS_RING_BYTES, haproxyPaths } from '../src/haproxy/config.js';
import { accessLogSink } from '../src/haproxy/plane.js';
import {
  type AccessLine,
  accessField,
  accessFieldIs,
  emptyAccessLine,
  FIELD,
  handOver,
  RingFollower,
  type RingSink,
  scanAccessLine,
} from '../src/haproxy/ring.js';
import { haproxyAvailable } from '../src/index.js';
import { RouteTable } from '../src/routes.js';
import { TrafficStats } from '../src/stats.js';
import { Backend, type Echo } from './support/backend.js';
import { admin, type Harness, raw, request, startHarness, tempDir, waitFor } from './support/harness.js';
import { haproxiesIn } from './support/processes.js';
import { route } from './support/routing-server.js';

const GOOD =
  '{"time":1,"project":"shop","method":"GET","status":200,"bytes":5,"bytesIn":0,"durationMs":1,"upstream":"127.0.0.1:9","requestId":"r1","termination":"--","host":"shop.apps.test"}';

/** What scanAccessLine read from a line, the string fields read out of it. */
type Scanned = Omit<AccessLine, 'spans' | 'hostEscaped'> & Record<keyof typeof FIELD, string>;

/** scanAccessLine on `text[start, end)` (as HAProxy's bytes): every field, or undefined. */
function scanIn(text: string, start: number, end: number): Scanned | undefined {
  const buf = Buffer.from(text, 'latin1');
  const out = emptyAccessLine();
  if (!scanAccessLine(buf, start, end, out)) return undefined;
  const { spans: _spans, hostEscaped: _escaped, ...numbers } = out;
  const strings = Object.fromEntries(
    (Object.keys(FIELD) as Array<keyof typeof FIELD>).map((f) => [f, accessField(buf, out, f)]),
  ) as Record<keyof typeof FIELD, string>;
  return { ...numbers, ...strings };
}

/** scanAccessLine on a whole string. */
function scan(line: string): Scanned | undefined {
  return scanIn(line, 0, line.length);
}

describe('scanAccessLine', () => {
  it('reads a line in ACCESS_LOG_FORMAT', () => {
    expect(scan(GOOD)).toEqual({
      time: 1,
      project: 'shop',
      host: 'shop.apps.test',
      method: 'GET',
      status: 200,
      bytes: 5,
      bytesIn: 0,
      durationMs: 1,
      upstream: '127.0.0.1:9',
      requestId: 'r1',
      termination: '--',
    });
  });

  it('is the shape HAProxy is told to write (ACCESS_LOG_FORMAT with its fields filled in)', () => {
    const filled = ACCESS_LOG_FORMAT.replace('%Ts%ms', '1')
      .replace('%[var(txn.host),map(NAMES)]', 'shop')
      .replace('%HM', 'GET')
      .replace('%ST', '200')
      .replace('%B', '5')
      .replace('%U', '0')
      .replace('%Ta', '1')
      .replace('%s', '127.0.0.1:9')
      .replace('%ID', 'r1')
      .replace('%tsc', '--')
      .replace('%[var(txn.host)]', 'shop.apps.test');
    expect(filled).toBe(GOOD);
    expect(JSON.parse(filled)).toMatchObject({ project: 'shop', status: 200, host: 'shop.apps.test' });
  });

  it('reads a part of a longer text, and negative numbers (HAProxy writes -1 for "none")', () => {
    const line = GOOD.replace('"status":200', '"status":-1').replace('"durationMs":1', '"durationMs":-1');
    const text = `junk\n${line}\nmore`;
    expect(scanIn(text, 5, 5 + line.length)).toMatchObject({
      status: -1,
      durationMs: -1,
      host: 'shop.apps.test',
    });
  });

  it('reads lines one after another in one text, the spans pointing into it', () => {
    const lines = [
      GOOD,
      GOOD.replace('"r1"', '"r22"').replace('shop.apps.test', 'a\\"b'),
      GOOD.replace('"--"', '"SC--"'),
    ];
    const text = Buffer.from(`${lines.join('\n')}\n`, 'latin1');
    const out = emptyAccessLine();
    const seen: string[] = [];
    for (let start = 0; start < text.length; ) {
      const nl = text.indexOf(10, start);
      expect(scanAccessLine(text, start, nl, out)).toBe(true);
      seen.push(
        `${accessField(text, out, 'requestId')} ${accessField(text, out, 'termination')} ${accessField(text, out, 'host')}`,
      );
      expect(accessFieldIs(text, out, 'termination', '--')).toBe(seen.length !== 3);
      start = nl + 1;
    }
    expect(seen).toEqual(['r1 -- shop.apps.test', 'r22 -- ', 'r1 SC-- shop.apps.test']);
  });

  it('keeps no host that holds an escape (no route has one) but still reads the line', () => {
    expect(scan(GOOD.replace('"host":"shop.apps.test"', '"host":"a\\"b"'))?.host).toBe('');
    expect(scan(GOOD.replace('"host":"shop.apps.test"', '"host":"\\u00e9.apps.test"'))?.host).toBe('');
  });

  it.each([
    ['an HAProxy notice', 'Proxy edge stopped (cumulated conns: FE: 1, BE: 0).'],
    ['show info output', 'Pid: 1234'],
    ['an empty line', ''],
    ['a line cut by maxlen', GOOD.slice(0, 120)],
    ['a line cut inside the host', GOOD.slice(0, -5)],
    ['a JSON array', '[{"time":1}]'],
    ['null', 'null'],
    [
      'a line of the format before (constant fields)',
      '{"level":30,"time":1,"service":"router","component":"access","project":"shop","backend":"s0","method":"GET","status":200,"bytes":5,"bytesIn":0,"durationMs":1,"upstream":"127.0.0.1:9","requestId":"r1","termination":"--","msg":"request","host":"shop.apps.test"}',
    ],
    [
      'a line of the format before (with the slot backend)',
      GOOD.replace('"method"', '"backend":"s0","method"'),
    ],
    ['a key renamed', GOOD.replace('"bytesIn"', '"bytes_in"')],
    ['a string value that is a number', GOOD.replace('"method":"GET"', '"method":0')],
    [
      'a string value that is not closed before the next key',
      GOOD.replace('"method":"GET"', '"method":"GET'),
    ],
    ['an upstream with an escape', GOOD.replace('"upstream":"127.0.0.1:9"', '"upstream":"127\\".0.0.1:9"')],
    ['a request id with a backslash', GOOD.replace('"r1"', '"r\\1"')],
    [
      'a project with a backslash (an escape in the host after it)',
      GOOD.replace('"project":"shop"', '"project":"sh\\op"').replace('shop.apps.test', 'a\\"b'),
    ],
    ['fields in another order', GOOD.replace('"method":"GET","status":200', '"status":200,"method":"GET"')],
    ['a status that is a string', GOOD.replace('"status":200', '"status":"200"')],
    ['a status with a fraction', GOOD.replace('"status":200', '"status":200.5')],
    ['an empty number', GOOD.replace('"bytes":5', '"bytes":')],
    ['a lone minus', GOOD.replace('"bytes":5', '"bytes":-')],
    ['a number of 16 digits', GOOD.replace('"bytes":5', '"bytes":1234567890123456')],
    ['a duration out of range', GOOD.replace('"durationMs":1', '"durationMs":1e999')],
    ['a missing host', GOOD.replace(',"host":"shop.apps.test"', '')],
    ['a host that is an object', GOOD.replace('"host":"shop.apps.test"}', '"host":{"toString":1}}')],
    ['a host with a bare quote', GOOD.replace('"host":"shop.apps.test"', '"host":"a"b"')],
    ['a method with an escape', GOOD.replace('"method":"GET"', '"method":"G\\ET"')],
    ['something after the line', `${GOOD} `],
    ['a leading space', ` ${GOOD}`],
  ])('ignores %s', (_name, line) => {
    expect(scan(line)).toBeUndefined();
  });
});

describe('handOver', () => {
  /** handOver of `text` (then `junk` past `length`): the access lines' request ids, the runs written, and whether a stop was seen. */
  function hand(text: string, junk = '') {
    const buf = Buffer.from(text + junk, 'latin1');
    const ids: string[] = [];
    const runs: string[] = [];
    const out = emptyAccessLine();
    const stopped = handOver(Buffer.from(buf), text.length, {
      line(b, start, end) {
        if (!scanAccessLine(b, start, end, out)) return false;
        ids.push(accessField(b, out, 'requestId'));
        return true;
      },
      lines(bytes, n) {
        runs.push(`${n}:${bytes.toString('latin1')}`);
      },
    });
    return { ids, runs, stopped };
  }
  const line = (i: number) => GOOD.replace('"r1"', `"r${i}"`);

  it.each([
    [
      'only access lines: one run',
      `${line(1)}\n${line(2)}\n`,
      '',
      ['r1', 'r2'],
      [`2:${line(1)}\n${line(2)}\n`],
      false,
    ],
    [
      'a notice between runs: two runs, the stop seen',
      `${line(1)}\nProxy edge stopped (cumulated conns: FE: 1, BE: 0).\n${line(2)}\n`,
      '',
      ['r1', 'r2'],
      [`1:${line(1)}\n`, `1:${line(2)}\n`],
      true,
    ],
    ['nothing past length is read', `${line(1)}\n`, `${line(9)}\n`, ['r1'], [`1:${line(1)}\n`], false],
    [
      'a cut line and a "{" that is no line',
      `{"cut":\n${line(3)}\n{\n`,
      '',
      ['r3'],
      [`1:${line(3)}\n`],
      false,
    ],
    ['high bytes (not UTF-8) in a notice', 'caf\xe9 \xff\n', '', [], [], false],
  ])('%s', (_name, text, junk, ids, runs, stopped) => {
    expect(hand(text, junk)).toEqual({ ids, runs, stopped });
  });
});

describe('accessLogSink (how the haproxy plane counts the lines)', () => {
  it('counts each line for the route of its host, also when the table moves a host to another project', () => {
    const table = new RouteTable();
    const written: number[] = [];
    const stats = new TrafficStats({ write: () => undefined, writeLines: (_b, n) => written.push(n) });
    const sink = accessLogSink(table, stats);
    const feed = (lines: string[]) => {
      const text = Buffer.from(`${lines.join('\n')}\n`, 'latin1');
      for (let start = 0; start < text.length; ) {
        const nl = text.indexOf(10, start);
        sink.line(text, start, nl);
        start = nl + 1;
      }
    };
    const at = (host: string, status = 200, extra = (l: string) => l) =>
      extra(GOOD.replace('shop.apps.test', host).replace('"status":200', `"status":${status}`));
    table.replace([
      route({ projectId: 'a', hostnames: ['shop.apps.test'] }),
      route({ projectId: 'b', hostnames: ['b.apps.test'] }),
    ]);
    feed([
      at('shop.apps.test'),
      at('shop.apps.test'),
      at('b.apps.test'),
      at('shop.apps.test'),
      at('nowhere.test'),
    ]);
    table.replace([route({ projectId: 'b', hostnames: ['shop.apps.test'] })]);
    feed([
      at('shop.apps.test', 502),
      // HAProxy's own 502 (no server answered), an escaped host (no route), the 503 page.
      at('shop.apps.test', 502, (l) => l.replace('"termination":"--"', '"termination":"SC--"')),
      at('a\\"b', 200),
      at('shop.apps.test', 503, (l) => l.replace('"upstream":"127.0.0.1:9"', '"upstream":"<NOSRV>"')),
    ]);
    const p = stats.snapshot().projects;
    expect(p.a?.requests).toBe(3);
    expect(p.b?.requests).toBe(4);
    expect(p.b?.byClass).toEqual([0, 1, 0, 0, 3]);
    expect(p.b?.unavailable).toBe(2);
    expect(p['(unrouted)']?.requests).toBe(2);
  });
});

/** A sink that scans like the haproxy plane and keeps what it is handed. */
function recordingSink() {
  const ids: string[] = [];
  const written: Buffer[] = [];
  let count = 0;
  const out = emptyAccessLine();
  const sink: RingSink = {
    line(buf, start, end) {
      if (!scanAccessLine(buf, start, end, out)) return false;
      ids.push(accessField(buf, out, 'requestId'));
      return true;
    },
    lines(bytes, n) {
      written.push(Buffer.from(bytes));
      count += n;
    },
  };
  return { sink, ids, written: () => Buffer.concat(written).toString(), count: () => count };
}

/** A server that speaks like HAProxy's CLI: `show info`, then what `events` gives each connection. */
async function fakeCli(socket: string, events: (n: number, c: net.Socket) => void) {
  const commands: string[] = [];
  const conns: net.Socket[] = [];
  const server = net.createServer((c) => {
    conns.push(c);
    c.once('data', (b) => {
      commands.push(b.toString());
      c.write('Name: HAProxy\nPid: 4242\n\n');
      events(commands.length, c);
    });
  });
  await new Promise<void>((r) => server.listen(socket, r));
  return {
    commands,
    close: async () => {
      for (const c of conns) c.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}

const silent = createLogger('router', { level: 'silent', format: 'json' });

describe('RingFollower reading a stream', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
  });

  /** Runs `body` with a follower attached to a fake CLI whose n-th connection gets `events`. */
  const following = async (
    events: (n: number, c: net.Socket) => void,
    body: (rec: ReturnType<typeof recordingSink>, commands: string[]) => Promise<void>,
  ) => {
    const dir = tempDir();
    dirs.push(dir);
    const socket = path.join(dir, 'fake.sock');
    const cli = await fakeCli(socket, events);
    const rec = recordingSink();
    const follower = new RingFollower(
      socket,
      'access',
      rec.sink,
      async () => 4242,
      () => [],
      silent,
    );
    try {
      follower.attach();
      await body(rec, cli.commands);
    } finally {
      follower.close();
      await cli.close();
    }
  };

  it('hands over access lines as they came, split across reads, without the notices between them', async () => {
    const line = (i: number) => GOOD.replace('"r1"', `"r${i}"`);
    const text = `${line(1)}\n${line(2)}\nProxy edge stopped (cumulated conns: FE: 1, BE: 0).\n${line(3)}\nnot json\n{"cut":\n${line(4)}\n`;
    const drip = (_n: number, c: net.Socket) => {
      // A few bytes at a time at first (lines split anywhere), then the rest at once.
      const bytes = Buffer.from(text);
      let i = 0;
      const timer = setInterval(() => {
        if (i >= 140) {
          clearInterval(timer);
          c.write(bytes.subarray(i));
          return;
        }
        c.write(bytes.subarray(i, i + 7));
        i += 7;
      }, 1);
    };
    await following(drip, async (rec) => {
      await waitFor(() => rec.ids.length === 4, 10_000, 'four lines');
      expect(rec.ids).toEqual(['r1', 'r2', 'r3', 'r4']);
      expect(rec.written()).toBe(`${line(1)}\n${line(2)}\n${line(3)}\n${line(4)}\n`);
      expect(rec.count()).toBe(4);
    });
  });

  it('reads a burst of many lines whole, across pauses', async () => {
    const n = 20_000;
    const burst = (_n: number, c: net.Socket) => {
      for (let i = 0; i < n; i += 1000) {
        let chunk = '';
        for (let j = i; j < i + 1000; j++) chunk += `${GOOD.replace('"r1"', `"r${j}"`)}\n`;
        c.write(chunk);
      }
    };
    await following(burst, async (rec) => {
      await waitFor(() => rec.ids.length === n, 10_000, `${n} lines`);
      expect(rec.ids[n - 1]).toBe(`r${n - 1}`);
      expect(new Set(rec.ids).size).toBe(n);
      expect(rec.count()).toBe(n);
    });
  });

  it('attaches again from the ring end (-wn) when the stream of a live worker breaks', async () => {
    const breakFirst = (n: number, c: net.Socket) => {
      c.write(`${GOOD.replace('"r1"', `"r${n}"`)}\nnot json\n`);
      if (n === 1) setTimeout(() => c.destroy(), 50);
    };
    await following(breakFirst, async (rec, commands) => {
      await waitFor(() => commands.length === 2 && rec.ids.length === 2, 5_000, 'reattached');
      expect(commands).toEqual(['show info; show events access -w\n', 'show info; show events access -wn\n']);
      expect(rec.ids).toEqual(['r1', 'r2']);
    });
  });
});

describe.skipIf(!haproxyAvailable())('haproxy access log through the ring', () => {
  type Stats = { projects: Record<string, { requests: number }> };
  let h: Harness;
  let a: Backend;
  const one = () =>
    route({
      projectId: 'p1',
      projectName: 'one',
      hostnames: ['one.apps.test'],
      upstreamAddresses: [a.address],
    });
  const counted = async () => (await admin<Stats>(h.dataDir, '/stats')).projects.p1?.requests ?? 0;
  const accessLines = () =>
    fs
      .readFileSync(`${h.dataDir}/router/access.log`, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map(
        (l) =>
          JSON.parse(l) as {
            project: string;
            requestId: string;
            status: number;
            time: number;
            host: string;
            method: string;
            upstream: string;
          },
      );
  /** Sends `n` requests one after another; returns the X-Request-Id values the instance saw. */
  const send = async (n: number) => {
    const ids: string[] = [];
    for (let i = 0; i < n; i++) {
      const r = await request(h.port, 'one.apps.test', '/echo');
      expect(r.status).toBe(200);
      ids.push(String((JSON.parse(r.body) as Echo).headers['x-request-id']));
    }
    return ids;
  };
  /** The counters once they stop moving (lines of earlier requests may still be on their way). */
  const settled = async () => {
    let last = -1;
    for (let n = await counted(); n !== last; n = await counted()) {
      last = n;
      await new Promise((r) => setTimeout(r, 200));
    }
    return last;
  };
  /** Waits until the counters have `n` requests more than `before`, and checks none more come. */
  const expectCounted = async (before: number, n: number) => {
    await waitFor(async () => (await counted()) >= before + n, 5_000, `${n} requests counted`);
    await new Promise((r) => setTimeout(r, 200));
    expect(await counted()).toBe(before + n);
  };

  beforeAll(async () => {
    a = await new Backend('a').start();
    // A long drain bound: a worker held by the log stream would show as a stop taking 20 s.
    h = await startHarness('haproxy', { PAASTECH_ROUTER_DRAIN_TIMEOUT_MS: '20000' });
    h.routes.setRoutes([one()]);
    await waitFor(
      async () => (await request(h.port, 'one.apps.test', '/echo')).status === 200,
      10_000,
      'route',
    );
  });
  afterAll(async () => {
    await h?.stop();
    await a?.stop();
  });

  it('counts every request and writes one access.log line per request', async () => {
    const before = await settled();
    const ids = await send(25);
    await expectCounted(before, 25);
    await waitFor(() => ids.every((id) => accessLines().some((l) => l.requestId === id)), 3_000, 'lines');
    const mine = accessLines().filter((l) => ids.includes(l.requestId));
    expect(mine).toHaveLength(25);
    expect(mine.every((l) => l.project === 'one' && l.status === 200 && l.host === 'one.apps.test')).toBe(
      true,
    );
    // The upstream is the instance's address (its server name in HAProxy), the ids all differ.
    expect(mine.every((l) => l.upstream === a.address)).toBe(true);
    expect(new Set(ids).size).toBe(25);
    // Milliseconds since the epoch (HAProxy's %Ts%ms), not seconds or a date string.
    expect(mine.every((l) => Math.abs(l.time - Date.now()) < 60_000)).toBe(true);
  });

  it('escapes a host no route has: the line stays JSON, with no upstream', async () => {
    const before = accessLines().length;
    const r = await request(h.port, 'we"ird\\.apps.test', '/');
    expect(r.status).toBe(404);
    await waitFor(() => accessLines().length > before, 3_000, 'line');
    const line = accessLines().find((l) => l.host === 'we"ird\\.apps.test');
    expect(line).toMatchObject({ project: '-', status: 404, upstream: '<NOSRV>' });
  });

  it('escapes the host of a request whose header rewrite fails (500): every line stays JSON', async () => {
    // A head near the buffer's limit whose Host carries a 1,000-digit port: copying it into
    // X-Forwarded-Host overflows HAProxy's rewrite space, and the rules after that one are skipped.
    // Where exactly it overflows depends on the head's size: try sizes around it.
    const host = `evil"tab\tx\\:${'9'.repeat(1000)}`;
    const statuses = new Set<string>();
    for (let size = 14_900; size <= 15_400 && !statuses.has('500'); size += 20) {
      const pad = 'x'.repeat(size - 1100);
      const out = await raw(
        h.port,
        `GET /overflow HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\nX-Pad: ${pad}\r\n\r\n`,
      );
      statuses.add(out.slice(9, 12));
    }
    expect(statuses).toContain('500');
    // Every line of access.log parses (accessLines throws on one that does not), and the host of
    // those requests is the escaped text, not raw bytes.
    await waitFor(
      () => accessLines().some((l) => l.status === 500 && l.host.startsWith('evil')),
      3_000,
      'its line',
    );
    for (const l of accessLines().filter((x) => x.host.startsWith('evil')))
      expect(l.host).toBe('evil"tab\tx\\');
  });

  it('keeps a line longer than 1,024 bytes whole, and refuses a method longer than 32 characters', async () => {
    const method = 'A'.repeat(900);
    const out = await raw(h.port, `${method} / HTTP/1.1\r\nHost: one.apps.test\r\n\r\n`);
    expect(out).toMatch(/^HTTP\/1\.1 400 /);
    await waitFor(
      () => accessLines().some((l) => l.status === 400 && l.method === method),
      3_000,
      'its line',
    );
  });

  it('keeps counting after HAProxy crashes and is restarted, with request ids of its own', async () => {
    const before = await settled();
    const old = await send(5);
    await expectCounted(before, 5);
    // Every HAProxy process (masters and workers) crashes at once.
    const crashed = haproxiesIn(h.dataDir);
    for (const pid of crashed) process.kill(pid, 'SIGKILL');
    await waitFor(() => !haproxiesIn(h.dataDir).some((p) => crashed.includes(p)), 5_000, 'old haproxy gone');
    await waitFor(
      async () =>
        (await request(h.port, 'one.apps.test', '/echo').catch(() => ({ status: 0 }))).status === 200 &&
        haproxiesIn(h.dataDir).length === 4,
      15_000,
      'restarted',
    );
    // The probe that found it serving again is counted too: start from settled counters.
    const after = await settled();
    const fresh = await send(10);
    await expectCounted(after, 10);
    // The new HAProxy counts requests from 0 again: its ids start with a prefix of its own.
    expect(fresh.filter((id) => old.includes(id))).toEqual([]);
    const prefixes = new Set(old.map((id) => id.split('-')[0]));
    expect(fresh.filter((id) => prefixes.has(id.split('-')[0]))).toEqual([]);
    expect(fresh.every((id) => /^[0-9a-f]{10}-\d+$/.test(id))).toBe(true);
  });

  it('keeps counting across a reload, and lets the old worker exit once its requests are done', async () => {
    const before = await settled();
    await send(5);
    const workers = haproxiesIn(h.dataDir);
    // More projects than slots: a reload (new worker, new ring).
    h.routes.setRoutes([
      one(),
      ...Array.from({ length: 40 }, (_, i) =>
        route({ projectId: `m${i}`, hostnames: [`m${i}.apps.test`], upstreamAddresses: [a.address] }),
      ),
    ]);
    await waitFor(
      async () => (await request(h.port, 'm39.apps.test', '/echo')).status === 200,
      15_000,
      'reload',
    );
    await send(5);
    await expectCounted(before, 10);
    // The old workers (hard-stop-after 20 s) exit well before, although the router read their
    // rings: a master and a worker for each of the two processes.
    expect(workers).toHaveLength(4);
    await waitFor(() => haproxiesIn(h.dataDir).length === 4, 5_000, 'old workers exited');
    expect(haproxiesIn(h.dataDir)).not.toEqual(workers);
  });

  it('reads the ring from its own file (no Runtime API stream held open), removed when the router stops', async () => {
    const paths = haproxyPaths(h.dataDir);
    const ringDir = fs.readFileSync(path.join(paths.dir, 'ring.dir'), 'utf8');
    expect(ringDir.startsWith('/dev/shm/paastech-router-')).toBe(true);
    expect(fs.statSync(ringDir).mode & 0o777).toBe(0o700);
    // One file per HAProxy worker alive (two processes): the reloaded ones' went with them.
    const rings = () => fs.readdirSync(ringDir).filter((f) => /^access-[0-9a-f]+\.ring$/.test(f));
    await waitFor(() => rings().length === 2, 5_000, 'one ring file a process');
    const file = path.join(ringDir, rings()[0] as string);
    expect(fs.statSync(file).size).toBe(ACCESS_RING_BYTES);
    // Allocated to the last page by the router before HAProxy mapped it.
    expect(fs.statSync(file).blocks * 512).toBeGreaterThanOrEqual(ACCESS_RING_BYTES);
    const before = await settled();
    await send(5);
    await expectCounted(before, 5);
    // Connections accepted on the Runtime API socket, sampled: the sweep's commands come and go,
    // a `show events -w` stream would be in every sample. (HAProxy binds the socket under a
    // temporary name, then renames it: /proc/net/unix keeps the name it was bound with.)
    const bound = new RegExp(`^${paths.process(0).socket.replaceAll('.', '\\.')}(\\.\\d+\\.tmp)?$`);
    const open = () =>
      fs
        .readFileSync('/proc/net/unix', 'utf8')
        .split('\n')
        .map((row) => row.trim().split(/\s+/))
        .filter((cols) => cols[5] === '03' && bound.test(cols[7] ?? '')).length;
    const samples: number[] = [];
    for (let i = 0; i < 10; i++) {
      samples.push(open());
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(Math.min(...samples)).toBe(0);
  });

  it('stops without waiting for the drain bound, with the last requests counted', async () => {
    const ringDirAtStart = fs.readFileSync(path.join(h.dataDir, 'router', 'ring.dir'), 'utf8');
    const ids = await send(3);
    const started = Date.now();
    await h.router.stop();
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(haproxiesIn(h.dataDir)).toEqual([]);
    expect(fs.existsSync(path.join(h.dataDir, 'router', 'ring.dir'))).toBe(false);
    expect(fs.existsSync(ringDirAtStart)).toBe(false);
    const logged = accessLines().map((l) => l.requestId);
    expect(ids.filter((id) => logged.includes(id))).toEqual(ids);
    await h.restart();
    await waitFor(
      async () => (await request(h.port, 'one.apps.test', '/echo')).status === 200,
      10_000,
      'again',
    );
  });
});

describe.skipIf(!haproxyAvailable())('haproxy reloaded before it logged any line', () => {
  it('keeps serving and counting: each start and reload has a ring file of its own', async () => {
    // HAProxy 2.6 renames a ring file it finds only when that holds lines: a reload onto the file
    // an empty-ringed worker maps made the new worker rewrite its header under the old one, and
    // both crashed (the master then exited).
    const a = await new Backend('a').start();
    // One HAProxy process: its master and worker are the two processes found.
    const h = await startHarness('haproxy', { PAASTECH_ROUTER_WORKERS: '1' });
    try {
      const [master, worker] = haproxiesIn(h.dataDir);
      const routes = (n: number) => [
        route({ projectId: 'p1', hostnames: ['one.apps.test'], upstreamAddresses: [a.address] }),
        ...Array.from({ length: n }, (_, i) =>
          route({ projectId: `m${i}`, hostnames: [`m${i}.apps.test`], upstreamAddresses: [a.address] }),
        ),
      ];
      // More projects than slots, and not one request yet: a reload (a new worker).
      h.routes.setRoutes(routes(40));
      await waitFor(() => !haproxiesIn(h.dataDir).includes(worker as number), 15_000, 'reloaded');
      // And another one at once.
      h.routes.setRoutes(routes(80));
      await waitFor(() => haproxiesIn(h.dataDir).length === 2, 15_000, 'one worker');
      const second = haproxiesIn(h.dataDir)[1];
      h.routes.setRoutes(routes(160));
      await waitFor(
        () => !haproxiesIn(h.dataDir).includes(second as number) && haproxiesIn(h.dataDir).length === 2,
        15_000,
        'reloaded again',
      );
      // Spread over a few seconds: the crash came a second or two after the reload, as lines went in.
      const statuses: Array<number | string> = [];
      for (let i = 0; i < 6; i++) {
        statuses.push(
          await request(h.port, 'one.apps.test', '/echo').then(
            (r) => r.status,
            (e: Error) => e.message,
          ),
        );
        await new Promise((r) => setTimeout(r, 500));
      }
      expect(statuses).toEqual([200, 200, 200, 200, 200, 200]);
      expect(haproxiesIn(h.dataDir)[0]).toBe(master);
      await waitFor(
        async () =>
          ((await admin<{ projects: Record<string, { requests: number }> }>(h.dataDir, '/stats')).projects.p1
            ?.requests ?? 0) === 6,
        5_000,
        'six requests counted',
      );
    } finally {
      await h.stop();
      await a.stop();
    }
  });
});
