// The real paastechd binary: starts every service, answers every health check, and on SIGTERM stops
// in order and exits 0 leaving no process, port or socket behind.

import { execFile } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { health } from '@paastech/proto';
import {
  canConnect,
  descendantsOf,
  PAASTECHD,
  processesMentioning,
  startPaastechd,
  tempDir,
} from '@paastech/testing';
import { describe, expect, it } from 'vitest';

/** GET over TCP or a Unix socket; resolves with status and body. */
function get(target: {
  url?: string;
  socketPath?: string;
  path?: string;
}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = target.url
      ? http.get(target.url)
      : http.get({ socketPath: target.socketPath, path: target.path ?? '/', headers: { host: 'admin' } });
    req.on('response', (res) => {
      let body = '';
      res.on('data', (c: Buffer) => {
        body += c.toString();
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
  });
}

/** Calls grpc.health.v1.Health/Check on `address`. */
function grpcHealth(address: string): Promise<number> {
  const client = new health.HealthClient(address, grpc.credentials.createInsecure());
  return new Promise((resolve, reject) => {
    client.check({ service: '' }, (err, res) => {
      client.close();
      if (err) reject(err);
      else resolve(res.status);
    });
  });
}

const portOf = (url: string) => Number(new URL(url.replace('<project>.', 'x.')).port);

describe('paastechd all', () => {
  it('starts every service, answers every health check, and stops cleanly on SIGTERM', async () => {
    const d = await startPaastechd();
    try {
      const ep = d.endpoints;
      expect([...ep.keys()]).toEqual(
        expect.arrayContaining([
          'dashboard and API',
          'api gRPC',
          'git over HTTP',
          'git over SSH',
          'git gRPC',
          'pomegrenade gRPC',
          'apps',
          'router admin',
        ]),
      );
      expect(d.stdout()).toMatch(/^paastechd: ready \(role all, data in /m);

      const api = await get({ url: new URL('/healthz', ep.get('dashboard and API')).href });
      expect(api).toEqual({ status: 200, body: '{"status":"ok"}' });
      const gitUrl = ep.get('git over HTTP')!;
      const git = await get({ url: `http://127.0.0.1:${portOf(gitUrl)}/healthz` });
      expect(git.status).toBe(200);
      const adminSocket = ep.get('router admin')!.replace(/^unix:/, '');
      expect((await get({ socketPath: adminSocket, path: '/healthz' })).status).toBe(200);
      // The public edge answers a 404 page for a host it does not route.
      const appsPort = portOf(ep.get('apps')!);
      const edge = await get({ url: `http://127.0.0.1:${appsPort}/` });
      expect(edge.status).toBe(404);
      expect(edge.body).toContain('No application here');

      for (const label of ['api gRPC', 'git gRPC', 'pomegrenade gRPC']) {
        expect(await grpcHealth(ep.get(label)!), label).toBe(
          health.HealthCheckResponse_ServingStatus.SERVING,
        );
      }
      // Unix sockets of internal services are private to the platform's user.
      for (const label of ['api gRPC', 'git gRPC', 'pomegrenade gRPC', 'router admin']) {
        const mode = fs.statSync(ep.get(label)!.replace(/^unix:/, '')).mode & 0o777;
        expect(mode, label).toBe(0o600);
      }

      const pid = d.child.pid!;
      const ports = [
        portOf(ep.get('dashboard and API')!),
        portOf(gitUrl),
        portOf(ep.get('git over SSH')!),
        appsPort,
      ];
      expect(await d.stop('SIGTERM')).toBe(0);
      expect(d.stdout()).toMatch(/paastechd: stopped/);
      expect(descendantsOf(pid)).toEqual([]);
      expect(processesMentioning(d.dataDir)).toEqual([]);
      for (const p of ports) expect(await canConnect(p), `port ${p}`).toBe(false);
      for (const label of ['api gRPC', 'git gRPC', 'pomegrenade gRPC', 'router admin']) {
        expect(fs.existsSync(ep.get(label)!.replace(/^unix:/, '')), label).toBe(false);
      }
    } finally {
      await d.stop('SIGKILL');
    }
  });

  it('hands out app URLs with the port the router really bound', async () => {
    const d = await startPaastechd();
    try {
      const api = d.endpoints.get('dashboard and API')!;
      const appsPort = portOf(d.endpoints.get('apps')!);
      const post = (path: string, body: unknown, token?: string) =>
        fetch(new URL(path, api), {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            ...(token ? { authorization: `Bearer ${token}` } : {}),
          },
          body: JSON.stringify(body),
        });
      const email = `port-${Date.now()}@example.com`;
      expect((await post('/api/v1/auth/signup', { email, password: 'a long unguessable pass' })).status).toBe(
        201,
      );
      const login = await post('/api/v1/auth/login', {
        email,
        password: 'a long unguessable pass',
        token_name: 't',
      });
      const { token } = (await login.json()) as { token: string };
      const created = await post('/api/v1/projects', { name: `port-${process.pid}` }, token);
      expect(created.status).toBe(201);
      const project = (await created.json()) as { app_url: string };
      expect(project.app_url).toBe(`http://port-${process.pid}.localhost:${appsPort}/`);
    } finally {
      await d.stop();
    }
  });

  it('stops on SIGINT too', async () => {
    const d = await startPaastechd();
    expect(await d.stop('SIGINT')).toBe(0);
  });

  it('creates the internal secret once, mode 0600, and reuses it', async () => {
    const dataDir = tempDir();
    const first = await startPaastechd({ dataDir });
    await first.stop();
    const file = `${dataDir}/keys/internal-secret`;
    const secret = fs.readFileSync(file, 'utf8');
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    const second = await startPaastechd({ dataDir });
    await second.stop();
    expect(fs.readFileSync(file, 'utf8')).toBe(secret);
  });

  // tempDir() is already 0700 (mkdtemp), so the data dir is one level below it: paastechd makes it.
  it('creates a missing data dir with mode 0700', async () => {
    const parent = tempDir();
    const dataDir = path.join(parent, 'data');
    const d = await startPaastechd({ dataDir: parent, env: { PAASTECH_DATA_DIR: dataDir } });
    try {
      expect(fs.statSync(dataDir).mode & 0o777).toBe(0o700);
    } finally {
      await d.stop();
      fs.rmSync(parent, { recursive: true, force: true });
    }
  });

  // An operator's `mkdir`, systemd's StateDirectory= (0755 by default).
  it('tightens an existing data dir readable by others to 0700', async () => {
    const dataDir = tempDir();
    fs.chmodSync(dataDir, 0o755);
    const d = await startPaastechd({ dataDir });
    try {
      expect(fs.statSync(dataDir).mode & 0o777).toBe(0o700);
    } finally {
      await d.stop();
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

/** Every listener on a free port: a refusal that did not happen must not take the default ports. */
const ANY_PORT = {
  PAASTECH_API_PORT: '0',
  PAASTECH_GIT_HTTP_PORT: '0',
  PAASTECH_GIT_SSH_PORT: '0',
  PAASTECH_ROUTER_PORT: '0',
};

/** Runs paastechd and returns exit code, stdout and stderr (for the failure cases). */
function runDaemon(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [PAASTECHD, ...args],
      { env: { PATH: process.env.PATH ?? '', PAASTECH_DATA_DIR: tempDir(), ...env }, timeout: 20_000 },
      (err, stdout, stderr) =>
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

describe('paastechd refuses bad input', () => {
  it.each([
    [['nope'], 'unknown role "nope"'],
    [[], 'missing role'],
    [['all', 'extra'], 'usage: paastechd'],
  ])('argv %j → exit 2 with %s', async (args, message) => {
    const r = await runDaemon(args);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(message);
  });

  it('reports every invalid variable together and starts nothing', async () => {
    const r = await runDaemon(['all'], {
      PAASTECH_API_PORT: 'eighty',
      PAASTECH_ROUTER_PORT: '70000',
      PAASTECH_APPS_DOMAIN: 'http://x',
      PAASTECH_DATABASE_URL: 'mysql://nope',
    });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('invalid configuration (4 problems)');
    for (const v of [
      'PAASTECH_API_PORT',
      'PAASTECH_ROUTER_PORT',
      'PAASTECH_APPS_DOMAIN',
      'PAASTECH_DATABASE_URL',
    ]) {
      expect(r.stderr).toContain(v);
    }
  });

  // Each is left as it was: nothing is created in it, its mode and owner unchanged.
  const NOBODY = 65534;
  it.each<[string, (root: string) => string, RegExp]>([
    [
      'world-writable and sticky (a /tmp)',
      (root) => mode(root, 0o1777),
      /is writable by others \(mode 01777\)/,
    ],
    ['world-writable', (root) => mode(root, 0o777), /is writable by others \(mode 0777\)/],
    ['group-writable', (root) => mode(root, 0o770), /is writable by others \(mode 0770\)/],
    ['owned by another user', (root) => owned(root, 0o700), /belongs to uid 65534, not to this process/],
    [
      "a symlink to another user's directory",
      (root) => link(root, owned(root, 0o700)),
      /belongs to uid 65534/,
    ],
    ['a file', (root) => file(root), /is not a directory/],
    ['below a file', (root) => path.join(file(root), 'data'), /cannot be created \(ENOTDIR\)/],
  ])('refuses a data dir %s, naming PAASTECH_DATA_DIR, and leaves it alone', async (_name, make, reason) => {
    const root = tempDir();
    try {
      const dataDir = make(root);
      const peek = () => {
        try {
          return fs.lstatSync(dataDir, { throwIfNoEntry: false });
        } catch {
          return undefined; // below a file (ENOTDIR)
        }
      };
      const before = peek();
      const r = await runDaemon(['all'], { PAASTECH_DATA_DIR: dataDir, ...ANY_PORT });
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(reason);
      expect(r.stderr).toContain('set PAASTECH_DATA_DIR to a directory of its own');
      const after = peek();
      expect([after?.mode, after?.uid]).toEqual([before?.mode, before?.uid]);
      if (after?.isDirectory()) expect(fs.readdirSync(dataDir)).toEqual([]);
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });

  /** `<root>/data` with `m`. */
  function mode(root: string, m: number): string {
    const dir = path.join(root, 'data');
    fs.mkdirSync(dir);
    fs.chmodSync(dir, m);
    return dir;
  }
  /** `<root>/theirs`, owned by uid NOBODY, with `m`. */
  function owned(root: string, m: number): string {
    const dir = mode(root, m).replace(/data$/, 'theirs');
    fs.renameSync(path.join(root, 'data'), dir);
    fs.chownSync(dir, NOBODY, NOBODY);
    return dir;
  }
  /** `<root>/data`, a symlink to `target`. */
  function link(root: string, target: string): string {
    fs.symlinkSync(target, path.join(root, 'data'));
    return path.join(root, 'data');
  }
  /** `<root>/data`, a file. */
  function file(root: string): string {
    fs.writeFileSync(path.join(root, 'data'), 'not a directory');
    return path.join(root, 'data');
  }

  it('exits 1 with the reason when a port is taken', async () => {
    const blocker = http.createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const port = (blocker.address() as { port: number }).port;
    try {
      const r = await runDaemon(['all'], {
        PAASTECH_API_PORT: '0',
        PAASTECH_GIT_HTTP_PORT: String(port),
        PAASTECH_ROUTER_PORT: '0',
      });
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/start-up failed: .*EADDRINUSE/);
    } finally {
      blocker.close();
    }
  });
});
