// A TCP proxy on loopback that tests can cut and restore, to make a database "go away" and "come
// back" without touching the real server.
import net from 'node:net';

export interface TcpProxy {
  port: number;
  /** Drops every connection and stops listening (connections are refused). */
  cut(): Promise<void>;
  /** Listens again on the same port. */
  restore(): Promise<void>;
  /** Keeps every connection open but forwards nothing (a server that hangs). */
  freeze(): void;
  /** Forwards again, including what was held back. */
  thaw(): void;
  close(): Promise<void>;
}

/** Starts a proxy from 127.0.0.1:<free port> to `target`. */
export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  const sockets = new Set<net.Socket>();
  const pairs = new Set<[net.Socket, net.Socket]>();
  let server: net.Server | undefined;
  let port = 0;
  let frozen = false;
  const link = ([inbound, outbound]: [net.Socket, net.Socket]) => {
    inbound.pipe(outbound);
    outbound.pipe(inbound);
  };
  const unlink = ([inbound, outbound]: [net.Socket, net.Socket]) => {
    inbound.unpipe(outbound);
    outbound.unpipe(inbound);
    inbound.pause();
    outbound.pause();
  };
  const listen = async () => {
    server = net.createServer((inbound) => {
      const outbound = net.connect(target.port, target.host);
      const pair: [net.Socket, net.Socket] = [inbound, outbound];
      pairs.add(pair);
      for (const s of pair) {
        sockets.add(s);
        s.on('close', () => {
          sockets.delete(s);
          pairs.delete(pair);
        });
        s.on('error', () => {});
      }
      if (frozen) unlink(pair);
      else link(pair);
    });
    await new Promise<void>((resolve, reject) => {
      server?.once('error', reject);
      server?.listen(port, '127.0.0.1', () => resolve());
    });
    port = (server.address() as net.AddressInfo).port;
  };
  const cut = async () => {
    const s = server;
    server = undefined;
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => (s ? s.close(() => resolve()) : resolve()));
  };
  await listen();
  const freeze = () => {
    frozen = true;
    for (const pair of pairs) unlink(pair);
  };
  const thaw = () => {
    frozen = false;
    for (const pair of pairs) link(pair);
  };
  return { port, cut, restore: listen, close: cut, freeze, thaw };
}
