// An open-loop HTTP/1.1 load generator for the API benchmark: requests are due at a fixed rate and
// their latency is counted from when each was due, so a slow answer cannot slow the offered load
// down (no coordinated omission). It writes one pre-built request per keep-alive socket and reads
// answers with a minimal Content-Length parser, because on a 2-core machine the generator shares the
// CPUs with the server and the database: node's http client cost ~3× the CPU per request, and its
// own queueing showed up as the server's p99.
import net from 'node:net';

const HEADER_END = Buffer.from('\r\n\r\n');

/**
 * Offers `rate` GET requests/s to `url` for `durationS` over at most `connections` sockets; resolves
 * with the latencies (ms, sorted), the achieved rate and the count of errors and non-2xx answers.
 */
export function openLoop({ url, headers = {}, rate, durationS, connections }) {
  const target = new URL(url);
  const request = Buffer.from(
    `GET ${target.pathname}${target.search} HTTP/1.1\r\nhost: ${target.host}\r\n${Object.entries(headers)
      .map(([k, v]) => `${k}: ${v}\r\n`)
      .join('')}\r\n`,
  );
  const total = Math.round(rate * durationS);
  const latencies = [];
  const backlog = [];
  const idle = [];
  let open = 0;
  let errors = 0;
  let non2xx = 0;
  let settled = 0;
  let resolveAll;
  const all = new Promise((r) => {
    resolveAll = r;
  });

  const settle = () => {
    if (++settled === total) resolveAll();
  };
  const send = (conn, due) => {
    conn.due = due;
    conn.socket.write(request);
  };
  const release = (conn) => {
    const next = backlog.shift();
    if (next === undefined) idle.push(conn);
    else send(conn, next);
  };
  const connect = (due) => {
    open++;
    const socket = net.connect(Number(target.port), target.hostname);
    socket.setNoDelay(true);
    const conn = { socket, due, chunks: [], length: 0 };
    socket.once('connect', () => send(conn, conn.due));
    socket.on('data', (chunk) => {
      conn.chunks.push(chunk);
      conn.length += chunk.length;
      const data = conn.chunks.length === 1 ? chunk : Buffer.concat(conn.chunks, conn.length);
      const end = data.indexOf(HEADER_END);
      if (end < 0) return;
      const head = data.toString('latin1', 0, end);
      const bodyLength = Number(/\r\ncontent-length:\s*(\d+)/i.exec(head)?.[1] ?? Number.NaN);
      if (!Number.isFinite(bodyLength)) {
        socket.destroy(new Error('answer without Content-Length'));
        return;
      }
      if (data.length < end + 4 + bodyLength) {
        conn.chunks = [data];
        return;
      }
      conn.chunks = [];
      conn.length = 0;
      latencies.push(performance.now() - conn.due);
      if (head.charCodeAt(9) !== 50 /* '2' */) non2xx++;
      conn.due = undefined;
      settle();
      release(conn);
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      open--;
      const i = idle.indexOf(conn);
      if (i >= 0) idle.splice(i, 1);
      if (conn.due !== undefined) {
        errors++;
        conn.due = undefined;
        settle();
      }
      // Work waiting for a socket gets a new one.
      if (backlog.length > 0 && open < connections) connect(backlog.shift());
    });
  };
  const dispatch = (due) => {
    const conn = idle.pop();
    if (conn) send(conn, due);
    else if (open < connections) connect(due);
    else backlog.push(due);
  };

  const start = performance.now();
  return (async () => {
    for (let i = 0; i < total; i++) {
      const due = start + (i * 1000) / rate;
      const wait = due - performance.now();
      // Never early: a request sent before it is due would shorten its measured latency.
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      dispatch(due);
    }
    await all;
    const elapsed = (performance.now() - start) / 1000;
    for (const conn of idle) conn.socket.destroy();
    latencies.sort((a, b) => a - b);
    return { latencies, achieved: latencies.length / elapsed, errors, non2xx };
  })();
}
