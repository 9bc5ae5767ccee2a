// A private image registry (Debian's `docker-registry`, distribution v2) run as a child process:
// a generated config, its storage under the caller's directory, listening on one address, deletes
// enabled. Used by paastechd (swarm runtime without PAASTECH_REGISTRY) and by the swarm test harness.
// Invariant: no auth is configured, so the address must be one only this machine (or the swarm's
// private network) reaches — loopback by default.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { run } from './exec.js';

export interface RegistryOptions {
  /** Directory for the config file and the image storage (created 0700). */
  dir: string;
  /** host:port to listen on, e.g. "127.0.0.1:5000". */
  address: string;
  /** The registry binary (Debian: /usr/bin/docker-registry). */
  binary?: string;
}

export interface RunningRegistry {
  /** host:port, the prefix of image names (`<address>/<project>:v3`). */
  readonly address: string;
  readonly child: ChildProcess;
  stop(): Promise<void>;
}

const HOST_PORT = /^(\d{1,3}(?:\.\d{1,3}){3}|localhost):(\d{1,5})$/;

/** The registry's YAML config (pure); JSON strings are valid YAML scalars, so paths are quoted safely. */
export function registryConfig(storageDir: string, address: string, secret = 'unset'): string {
  const m = HOST_PORT.exec(address);
  if (!m) throw new Error(`registry: address "${address}" must be ipv4:port`);
  // The unspecified address listens on every interface: refused, as it has no auth (invariant above).
  if (/^0+(?:\.0+){3}$/.test(m[1] as string))
    throw new Error(`registry: address "${address}" must be ipv4:port of one interface, not every interface`);
  return [
    'version: 0.1',
    'log:',
    '  level: warn',
    '  accesslog:',
    '    disabled: true',
    'storage:',
    '  filesystem:',
    `    rootdirectory: ${JSON.stringify(storageDir)}`,
    '  delete:',
    '    enabled: true',
    'http:',
    `  addr: ${JSON.stringify(address)}`,
    `  secret: ${JSON.stringify(secret)}`,
    '  headers:',
    '    X-Content-Type-Options: [nosniff]',
    '',
  ].join('\n');
}

/** Writes the config, collects garbage left by earlier deletes, starts the registry, waits for /v2/. */
export async function startRegistry(o: RegistryOptions): Promise<RunningRegistry> {
  const binary = o.binary ?? 'docker-registry';
  fs.mkdirSync(o.dir, { recursive: true, mode: 0o700 });
  const storage = path.join(o.dir, 'storage');
  fs.mkdirSync(storage, { recursive: true, mode: 0o700 });
  const configFile = path.join(o.dir, 'config.yml');
  fs.writeFileSync(configFile, registryConfig(storage, o.address, randomBytes(16).toString('hex')), {
    mode: 0o600,
  });
  // Deleting a manifest only unlinks it; blobs go when the registry is not serving (here, at start).
  if (fs.existsSync(path.join(storage, 'docker/registry/v2/repositories'))) {
    await run(binary, ['garbage-collect', '--delete-untagged', configFile]);
  }
  const child = spawn(binary, ['serve', configFile], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (b: Buffer) => {
    stderr = (stderr + b.toString()).slice(-4096);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const deadline = Date.now() + 15_000;
  while (!(await answers(o.address))) {
    if (child.exitCode !== null || child.signalCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(
        `registry on ${o.address} did not start: ${lastMessage(stderr) || 'no answer on /v2/'}`,
      );
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    address: o.address,
    child,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await exited;
      }
    },
  };
}

/** True when GET http://address/v2/ answers 200 (the registry API's version check). */
export function answers(address: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.get(`http://${address}/v2/`, { timeout: 2000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => req.destroy());
  });
}

/** The `msg="…"` of the registry's last log line, or the line itself (pure). */
export function lastMessage(stderr: string): string {
  const last = stderr.trim().split('\n').pop() ?? '';
  const m = /\bmsg="((?:[^"\\]|\\.)*)"/.exec(last);
  return m ? m[1]!.replace(/\\(.)/g, '$1') : last;
}
