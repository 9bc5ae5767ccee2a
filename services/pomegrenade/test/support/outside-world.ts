// A stand-in for "the outside world" that tests may send traffic to: a network namespace of the
// test on 198.18.0.0/15 (benchmarking range, never a real address) behind its own veth, with a TCP
// server answering "world". Instances reach it only through NAT, as they would the internet.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { run } from '@paastech/kit';

export interface OutsideWorld {
  /** Namespace name under /run/netns. */
  ns: string;
  /** The host end of its veth. */
  host: string;
  /** Where the world's server listens. */
  addr: string;
  port: number;
  close(): Promise<void>;
}

/** Creates the namespace, its veth and a server answering "world" on `port`. */
export async function createOutsideWorld(port: number): Promise<OutsideWorld> {
  const ns = `xw-${randomBytes(3).toString('hex')}`;
  const octet = 1 + Math.floor(Math.random() * 250);
  const host = `198.18.${octet}.1`;
  const addr = `198.18.${octet}.2`;
  await run('ip', ['netns', 'add', ns]);
  await run('ip', ['link', 'add', ns, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
  await run('ip', ['-n', ns, 'addr', 'add', `${addr}/30`, 'dev', 'eth0']);
  await run('ip', ['-n', ns, 'link', 'set', 'eth0', 'up']);
  await run('ip', ['addr', 'add', `${host}/30`, 'dev', ns]);
  await run('ip', ['link', 'set', ns, 'up']);
  const server = await serveIn(`/run/netns/${ns}`, 'world', port);
  return {
    ns,
    host,
    addr,
    port,
    async close() {
      server.kill('SIGKILL');
      await run('ip', ['link', 'del', ns]).catch(() => undefined);
      await run('ip', ['netns', 'del', ns]).catch(() => undefined);
    },
  };
}

/** A TCP server answering `name` inside the namespace at `nsPath`; resolves once it listens. */
async function serveIn(nsPath: string, name: string, port: number): Promise<ChildProcess> {
  const script =
    "require('net').createServer((s)=>s.end(process.argv[1])).listen(+process.argv[2],'0.0.0.0',()=>console.log('up'))";
  const child = spawn(
    'nsenter',
    [`--net=${nsPath}`, '--', process.execPath, '-e', script, name, String(port)],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  await new Promise<void>((resolve, reject) => {
    child.stdout?.once('data', () => resolve());
    child.once('exit', (code) => reject(new Error(`world server exited ${code}`)));
  });
  return child;
}
