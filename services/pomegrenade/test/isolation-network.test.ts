// Project network namespaces for real: iproute2 veth pairs, nftables rules, NAT to a stand-in for
// the outside world (a network namespace of this test on 198.18.0.0/15, never a real address).
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import { run } from '@paastech/kit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  formatIpv4,
  parseIpv4Net,
  projectNames,
  slotAddresses,
  slotCount,
} from '../src/isolation/addresses.js';
import { listTables, parseResolvers, projectRuleset } from '../src/isolation/firewall.js';
import { networkUnavailableReason, type ProjectNetwork, ProjectNetworks } from '../src/isolation/network.js';

const TAG = `t-${randomBytes(4).toString('hex')}`;
const networks = new ProjectNetworks({ tag: TAG, range: '10.213.0.0/16', egress: true });
const PORT = 18_000 + Math.floor(Math.random() * 1000);
const children: ChildProcess[] = [];

/** A server answering its `name` inside the namespace at `nsPath` (or on the host when null). */
async function serve(name: string, nsPath: string | null): Promise<void> {
  const script =
    "require('net').createServer((s)=>s.end(process.argv[1])).listen(+process.argv[2],'0.0.0.0',()=>console.log('up'))";
  const argv = [process.execPath, '-e', script, name, String(PORT)];
  const child = nsPath
    ? spawn('nsenter', [`--net=${nsPath}`, '--', ...argv], { stdio: ['ignore', 'pipe', 'inherit'] })
    : spawn(argv[0] as string, argv.slice(1), { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  await new Promise<void>((resolve, reject) => {
    child.stdout?.once('data', () => resolve());
    child.once('exit', (code) => reject(new Error(`server exited ${code}`)));
  });
}

/** Connects from inside `nsPath` to each host:port at once; the server's names or error codes. */
async function connectAllFrom(nsPath: string, targets: [string, number][]): Promise<string[]> {
  const script = [
    'const net=require("net");',
    'const one=([h,p])=>new Promise((res)=>{const s=net.connect(p,h);',
    's.setTimeout(1500,()=>{s.destroy();res("ETIMEDOUT")});',
    's.on("data",(d)=>{s.destroy();res(String(d))});s.on("error",(e)=>res(e.code))});',
    'Promise.all(JSON.parse(process.argv[1]).map(one)).then((r)=>console.log(JSON.stringify(r)));',
  ].join('');
  const { stdout } = await run('nsenter', [
    `--net=${nsPath}`,
    '--',
    process.execPath,
    '-e',
    script,
    JSON.stringify(targets),
  ]);
  return JSON.parse(stdout) as string[];
}

/** Connects from inside `nsPath` to host:port; the server's name or the error code. */
async function connectFrom(nsPath: string, host: string, port = PORT): Promise<string> {
  const [result = ''] = await connectAllFrom(nsPath, [[host, port]]);
  return result;
}

/** Connects from the host (as the router does); the server's name or the error code. */
function connectFromHost(host: string, port = PORT): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect(port, host);
    s.setTimeout(1500, () => {
      s.destroy();
      resolve('ETIMEDOUT');
    });
    s.on('data', (d) => {
      s.destroy();
      resolve(String(d));
    });
    s.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
  });
}

/** The host's own IPv4 addresses (every interface but the instance veths of other tests). */
function hostAddresses(): string[] {
  return Object.entries(os.networkInterfaces())
    .filter(([name]) => !name.startsWith('pt-'))
    .flatMap(([, addrs]) => addrs ?? [])
    .filter((a) => a?.family === 'IPv4')
    .map((a) => a?.address ?? '');
}

describe('addresses', () => {
  it('hands out /30 slots: .1 host end, .2 instances', () => {
    const n = parseIpv4Net('10.213.0.0/16');
    expect(slotCount(n)).toBe(16_384);
    expect(slotAddresses(n, 0)).toEqual({
      subnet: '10.213.0.0/30',
      hostAddress: '10.213.0.1',
      nsAddress: '10.213.0.2',
    });
    expect(slotAddresses(n, 16_383).nsAddress).toBe('10.213.255.254');
    expect(formatIpv4(0xc0000202)).toBe('192.0.2.2');
  });

  it.each([
    '10.213.0.0',
    '10.213.0.1/16',
    '10.213.0.0/31',
    '300.0.0.0/8',
    '10.213.0.0/16; flush ruleset',
    '',
  ])('rejects range %j', (cidr) => {
    expect(() => parseIpv4Net(cidr)).toThrow(/must be|host bits/);
  });

  it.each([[-1], [16_384], [1.5]])('rejects slot %j', (slot) => {
    expect(() => slotAddresses(parseIpv4Net('10.213.0.0/16'), slot)).toThrow(/outside/);
  });

  it.each(['p1', 'x'.repeat(200), 'a b; rm -rf /', '../../etc', '"quoted"'])(
    'names for project %j are short, safe and per installation',
    (id) => {
      const a = projectNames('install-a', id);
      const b = projectNames('install-b', id);
      for (const name of Object.values(a)) expect(name).toMatch(/^pt[-_][0-9a-f]{10}$/);
      expect(a.netns).not.toBe(b.netns);
    },
  );

  it.each([
    {
      table: 'pt_x; flush ruleset',
      hostIf: 'pt-x',
      subnet: '10.0.0.0/30',
      range: '10.0.0.0/16',
      egress: true,
    },
    { table: 'pt_x', hostIf: 'pt-x"', subnet: '10.0.0.0/30', range: '10.0.0.0/16', egress: true },
    { table: 'pt_x', hostIf: 'pt-x', subnet: '10.0.0.0/30 }', range: '10.0.0.0/16', egress: true },
  ])('the ruleset refuses hostile values %j', (spec) => {
    expect(() => projectRuleset(spec)).toThrow(/refusing/);
  });

  it('without egress the ruleset has no masquerade and rejects everything forwarded', () => {
    const spec = { table: 'pt_a', hostIf: 'pt-a', subnet: '10.0.0.0/30', range: '10.0.0.0/16' };
    expect(projectRuleset({ ...spec, egress: true })).toContain('masquerade');
    const off = projectRuleset({ ...spec, egress: false });
    expect(off).not.toContain('masquerade');
    expect(off).toContain('iifname "pt-a" reject with icmpx type admin-prohibited\n  }\n  chain postrouting');
  });
});

describe('project networks (root, iproute2, nftables)', () => {
  let a: ProjectNetwork;
  let b: ProjectNetwork;
  const world = { ns: `xw-${randomBytes(3).toString('hex')}`, host: '', addr: '' };
  // A host of the operator's private network (CGNAT range here), also a namespace of this test.
  const lan = { ns: `xl-${randomBytes(3).toString('hex')}`, host: '', addr: '' };

  beforeAll(async () => {
    [a, b] = await Promise.all([networks.ensure('project-a'), networks.ensure('project-b')]);
    // The stand-in for the outside world: its own namespace behind a veth that is not an instance's.
    const octet = 1 + Math.floor(Math.random() * 250);
    world.host = `198.18.${octet}.1`;
    world.addr = `198.18.${octet}.2`;
    await run('ip', ['netns', 'add', world.ns]);
    await run('ip', ['link', 'add', world.ns, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', world.ns]);
    await run('ip', ['-n', world.ns, 'addr', 'add', `${world.addr}/30`, 'dev', 'eth0']);
    await run('ip', ['-n', world.ns, 'link', 'set', 'eth0', 'up']);
    await run('ip', ['addr', 'add', `${world.host}/30`, 'dev', world.ns]);
    await run('ip', ['link', 'set', world.ns, 'up']);
    lan.host = `100.64.${octet}.1`;
    lan.addr = `100.64.${octet}.2`;
    await run('ip', ['netns', 'add', lan.ns]);
    await run('ip', ['link', 'add', lan.ns, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', lan.ns]);
    await run('ip', ['-n', lan.ns, 'addr', 'add', `${lan.addr}/30`, 'dev', 'eth0']);
    await run('ip', ['-n', lan.ns, 'link', 'set', 'eth0', 'up']);
    await run('ip', ['-n', lan.ns, 'route', 'add', 'default', 'via', lan.host]);
    await run('ip', ['addr', 'add', `${lan.host}/30`, 'dev', lan.ns]);
    await run('ip', ['link', 'set', lan.ns, 'up']);
    await Promise.all([
      serve('a', a.nsPath),
      serve('b', b.nsPath),
      serve('host', null),
      serve('world', `/run/netns/${world.ns}`),
      serve('lan', `/run/netns/${lan.ns}`),
    ]);
  });

  afterAll(async () => {
    for (const c of children) c.kill('SIGKILL');
    await run('ip', ['link', 'del', world.ns]).catch(() => undefined);
    await run('ip', ['netns', 'del', world.ns]).catch(() => undefined);
    await run('ip', ['link', 'del', lan.ns]).catch(() => undefined);
    await run('ip', ['netns', 'del', lan.ns]).catch(() => undefined);
    await networks.destroyAll();
  });

  it('finds ip, nft and nsenter on this host', () => {
    expect(networkUnavailableReason()).toBeNull();
  });

  it('gives each project its own /30 and the same network on a second ensure', async () => {
    expect(a.addresses.subnet).not.toBe(b.addresses.subnet);
    expect(a.addresses.nsAddress).toMatch(/^10\.213\.\d+\.\d+$/);
    expect(await networks.ensure('project-a')).toBe(a);
    expect(fs.existsSync(a.nsPath)).toBe(true);
  });

  it('the host (router) reaches an instance at its namespace address', async () => {
    expect(await connectFromHost(a.addresses.nsAddress)).toBe('a');
    expect(await connectFromHost(b.addresses.nsAddress)).toBe('b');
  });

  it('instances of one project reach each other', async () => {
    expect(await connectFrom(a.nsPath, a.addresses.nsAddress)).toBe('a');
    expect(await connectFrom(a.nsPath, '127.0.0.1')).toBe('a');
  });

  it('another project is unreachable', async () => {
    expect(await connectFrom(a.nsPath, b.addresses.nsAddress)).toMatch(/^E[A-Z]+$/);
    expect(await connectFrom(b.nsPath, a.addresses.nsAddress)).toMatch(/^E[A-Z]+$/);
  });

  it('every host address and port is unreachable, a listening host service included', async () => {
    const targets = [...hostAddresses(), a.addresses.hostAddress, b.addresses.hostAddress, world.host];
    expect(targets.length).toBeGreaterThan(3);
    // The service is there (the host reaches it); from the instance, 127.0.0.1 is its own
    // loopback (its own server answers) and every other host address is rejected.
    for (const host of targets) expect(await connectFromHost(host)).toBe('host');
    const seen = await connectAllFrom(
      a.nsPath,
      targets.map((h) => [h, PORT]),
    );
    expect(seen).toEqual(targets.map((h) => (h === '127.0.0.1' ? 'a' : expect.stringMatching(/^E[A-Z]+$/))));
    // PostgreSQL, SSH, the API and router ports on the host: a refusal or rejection is all they see.
    const ports = [22, 2222, 3000, 3001, 5432, 8080];
    const onHost = await connectAllFrom(
      a.nsPath,
      ports.flatMap((p) =>
        hostAddresses().map((h): [string, number] => [h === '127.0.0.1' ? a.addresses.hostAddress : h, p]),
      ),
    );
    for (const r of onHost) expect(r).toMatch(/^E[A-Z]+$/);
  });

  it('reaches the outside world through NAT, and not when egress is off', async () => {
    expect(await connectFrom(a.nsPath, world.addr)).toBe('world');
    await networks.setEgress('project-a', false);
    expect(await connectFrom(a.nsPath, world.addr)).toMatch(/^E[A-Z]+$/);
    expect(await connectFrom(b.nsPath, world.addr)).toBe('world');
    await networks.setEgress('project-a', true);
    expect(await connectFrom(a.nsPath, world.addr)).toBe('world');
  });

  it('a host of the private network the platform sits in is unreachable, egress or not', async () => {
    expect(await connectFromHost(lan.addr)).toBe('lan');
    expect(await connectFrom(a.nsPath, world.addr)).toBe('world');
    expect(await connectFrom(a.nsPath, lan.addr)).toMatch(/^E[A-Z]+$/);
  });

  it('destroy leaves no namespace, veth, table or reservation behind', async () => {
    const c = await networks.ensure('project-c');
    expect(networks.projects()).toContain('project-c');
    await networks.destroy('project-c');
    expect(fs.existsSync(c.nsPath)).toBe(false);
    expect(fs.existsSync(`/sys/class/net/${c.names.hostIf}`)).toBe(false);
    expect(await listTables(c.names.table)).toEqual([]);
    expect(networks.projects()).not.toContain('project-c');
  });
});

describe('resolvers (apps resolve names through the host resolver, even on a private address)', () => {
  it.each([
    ['nameserver 10.255.255.53\n', ['10.255.255.53']],
    [
      '# comment\nnameserver 1.1.1.1\nnameserver ::1\noptions ndots:1\n  nameserver 192.168.1.1  \n',
      ['1.1.1.1', '192.168.1.1'],
    ],
    ['nameserver 1.2.3.4; rm -rf /\nsearch x\n', []],
    ['', []],
  ])('parseResolvers(%j) → %j', (conf, expected) => {
    expect(parseResolvers(conf)).toEqual(expected);
  });

  it('opens port 53 of the resolvers before refusing private networks, only with egress', () => {
    const spec = {
      table: 'pt_x',
      hostIf: 'pt-x',
      subnet: '10.213.0.0/30',
      range: '10.213.0.0/16',
      egress: true,
      resolvers: ['10.255.255.53'],
    };
    const rules = projectRuleset(spec);
    const dns = rules.indexOf('ip daddr { 10.255.255.53 } meta l4proto { udp, tcp } th dport 53 accept');
    expect(dns).toBeGreaterThan(0);
    expect(dns).toBeLessThan(rules.indexOf('ip daddr { 10.0.0.0/8'));
    expect(projectRuleset({ ...spec, egress: false })).not.toContain('dport 53');
    expect(() => projectRuleset({ ...spec, resolvers: ['1.2.3.4 } accept; {'] })).toThrow(/refusing/);
  });
});
