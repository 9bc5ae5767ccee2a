// Networking helpers: free ports and the TCP sockets a set of processes listens on (in whatever
// network namespace they run).
import fs from 'node:fs';
import net from 'node:net';
import type { ListeningSocket } from '../domain/ports.js';

/** Asks the kernel for a free TCP port on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Socket inodes held open by `pids` (from /proc/<pid>/fd). */
function socketInodes(pids: number[]): Set<string> {
  const inodes = new Set<string>();
  for (const pid of pids) {
    let fds: string[] = [];
    try {
      fds = fs.readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        const m = /^socket:\[(\d+)\]$/.exec(fs.readlinkSync(`/proc/${pid}/fd/${fd}`));
        if (m?.[1]) inodes.add(m[1]);
      } catch {
        // fd closed meanwhile
      }
    }
  }
  return inodes;
}

/** Decodes a /proc/net/tcp hex address ("0100007F:0BB8" or its IPv6 form). */
export function decodeProcAddress(hex: string): ListeningSocket {
  const [addr = '', portHex = '0'] = hex.split(':');
  const port = Number.parseInt(portHex, 16);
  if (addr.length === 8) {
    const bytes = addr.match(/../g)?.map((b) => Number.parseInt(b, 16)) ?? [];
    return { address: bytes.reverse().join('.'), port };
  }
  const words: string[] = [];
  for (let i = 0; i < 32; i += 8) {
    const w =
      addr
        .slice(i, i + 8)
        .match(/../g)
        ?.reverse()
        .join('') ?? '';
    words.push(w.slice(0, 4), w.slice(4));
  }
  const v6 = words.map((w) => w.replace(/^0+(?=.)/, '')).join(':');
  return { address: v6 === '0:0:0:0:0:0:0:0' ? '::' : v6 === '0:0:0:0:0:0:0:1' ? '::1' : v6, port };
}

/**
 * The TCP tables that can hold sockets of `pids`: /proc/<pid>/net/* shows the table of that
 * process's network namespace (a project's own, not the host's), one pid per namespace.
 */
function tcpTables(pids: number[]): string[] {
  const seen = new Set<string>();
  const files: string[] = [];
  for (const pid of pids) {
    let ns = '';
    try {
      ns = fs.readlinkSync(`/proc/${pid}/ns/net`);
    } catch {
      continue;
    }
    if (seen.has(ns)) continue;
    seen.add(ns);
    files.push(`/proc/${pid}/net/tcp`, `/proc/${pid}/net/tcp6`);
  }
  return files;
}

/** TCP sockets in LISTEN state owned by `pids`. */
export function listeningSockets(pids: number[]): ListeningSocket[] {
  const inodes = socketInodes(pids);
  const out: ListeningSocket[] = [];
  for (const file of tcpTables(pids)) {
    let text = '';
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols.length < 10 || cols[3] !== '0A' || !inodes.has(cols[9] ?? '')) continue;
      out.push(decodeProcAddress(cols[1] ?? ''));
    }
  }
  return out;
}
