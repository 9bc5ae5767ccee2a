// paastechd runs the swarm runtime's private registry when PAASTECH_RUNTIME=swarm comes without
// PAASTECH_REGISTRY: which environments ask for it, and the real docker-registry started and stopped
// as one of the daemon's services.
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { answers, createLogger } from '@paastech/kit';
import { tempDir } from '@paastech/testing';
import { describe, expect, it } from 'vitest';
import { localRegistryAddress, readDaemonConfig } from '../src/config.js';
import { startDaemon } from '../src/daemon.js';

describe('localRegistryAddress', () => {
  it.each([
    ['local runtime', {}, undefined],
    ['explicit local runtime', { PAASTECH_RUNTIME: 'local' }, undefined],
    ['swarm, no registry', { PAASTECH_RUNTIME: 'swarm' }, '127.0.0.1:5000'],
    ['swarm, empty registry', { PAASTECH_RUNTIME: 'swarm', PAASTECH_REGISTRY: '' }, '127.0.0.1:5000'],
    ['swarm, other port', { PAASTECH_RUNTIME: 'swarm', PAASTECH_REGISTRY_PORT: '5123' }, '127.0.0.1:5123'],
    [
      'swarm with a registry of its own',
      { PAASTECH_RUNTIME: 'swarm', PAASTECH_REGISTRY: 'reg.internal:5000' },
      undefined,
    ],
  ])('%s', (_n, env, expected) => {
    expect(localRegistryAddress(env)).toBe(expected);
  });

  it.each(['0', '70000', 'abc', '5000; rm -rf /'])('refuses PAASTECH_REGISTRY_PORT=%j', (p) => {
    expect(() => localRegistryAddress({ PAASTECH_RUNTIME: 'swarm', PAASTECH_REGISTRY_PORT: p })).toThrow(
      /PAASTECH_REGISTRY_PORT/,
    );
  });
});

describe('readDaemonConfig', () => {
  it('adds the registry (under the data dir) only for roles that run Pomegrenade', () => {
    const env = { PAASTECH_RUNTIME: 'swarm', PAASTECH_DATA_DIR: '/srv/paastech' };
    expect(readDaemonConfig('all', env).registry).toEqual({
      dir: '/srv/paastech/registry',
      address: '127.0.0.1:5000',
    });
    expect(readDaemonConfig('pomegrenade', env).registry).toEqual({
      dir: '/srv/paastech/registry',
      address: '127.0.0.1:5000',
    });
    expect(readDaemonConfig('api', env).registry).toBeUndefined();
    expect(readDaemonConfig('all', { PAASTECH_DATA_DIR: '/srv/paastech' }).registry).toBeUndefined();
  });
});

/** A port nobody listens on right now (bound then released). */
function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

const hasRegistry = fs.existsSync('/usr/bin/docker-registry');

describe.skipIf(!hasRegistry)('the registry service of the daemon', () => {
  it('starts docker-registry on loopback with its data under the data dir, prints it, stops it', async () => {
    const dir = path.join(tempDir(), 'registry');
    const address = `127.0.0.1:${await freePort()}`;
    const logger = createLogger('test', { level: 'error', format: 'json', destination: process.stderr });
    const daemon = await startDaemon({ role: 'all', registry: { dir, address } }, logger);
    try {
      expect(daemon.services.map((s) => s.name)).toEqual(['registry']);
      expect(daemon.services[0]?.endpoints()).toEqual([
        { label: 'image registry', url: `http://${address}/v2/` },
      ]);
      expect(await answers(address)).toBe(true);
      expect(fs.readFileSync(path.join(dir, 'config.yml'), 'utf8')).toContain('delete:\n    enabled: true');
      expect((fs.statSync(dir).mode & 0o777).toString(8)).toBe('700');
    } finally {
      await daemon.stop();
    }
    expect(await answers(address)).toBe(false);
  });
});
