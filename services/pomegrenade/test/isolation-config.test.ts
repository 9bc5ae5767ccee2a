// Configuration of instance isolation: the network range (or "host"), the egress default, the
// operator's bounds on a deployment's limits, and the swarm runtime's published-port guard.
import type { InvalidArgumentError } from '@paastech/kit';
import { describe, expect, it } from 'vitest';
import { readPomegrenadeConfig } from '../src/config.js';
import { DEFAULT_LIMITS } from '../src/domain/model.js';
import { resolveLimits } from '../src/isolation/limits.js';

describe('instance network configuration', () => {
  it('defaults to a namespace per project in 10.213.0.0/16 with NAT', () => {
    expect(readPomegrenadeConfig({}).instanceNetwork).toEqual({ range: '10.213.0.0/16', egress: true });
  });

  it.each([
    [{ PAASTECH_INSTANCE_NETWORK: '172.30.0.0/20' }, { range: '172.30.0.0/20', egress: true }],
    [{ PAASTECH_INSTANCE_EGRESS: 'none' }, { range: '10.213.0.0/16', egress: false }],
    [{ PAASTECH_INSTANCE_NETWORK: 'host' }, null],
  ])('%j', (env, expected) => {
    expect(readPomegrenadeConfig(env).instanceNetwork).toEqual(expected);
  });

  it.each([
    [{ PAASTECH_INSTANCE_NETWORK: '10.213.0.0' }, /PAASTECH_INSTANCE_NETWORK.*CIDR/],
    [{ PAASTECH_INSTANCE_NETWORK: '10.213.0.0/16 --flush' }, /PAASTECH_INSTANCE_NETWORK/],
    [{ PAASTECH_INSTANCE_NETWORK: '10.213.0.1/16' }, /host bits/],
    [{ PAASTECH_INSTANCE_NETWORK: '10.0.0.0/31' }, /from \/8 to \/30/],
    [{ PAASTECH_INSTANCE_EGRESS: 'open' }, /PAASTECH_INSTANCE_EGRESS/],
  ])('rejects %j', (env, message) => {
    expect(() => readPomegrenadeConfig(env)).toThrow(message);
  });
});

describe('limits within operator bounds', () => {
  const MiB = 1024 * 1024;
  const bounds = { memoryBytes: 1024 * MiB, cpuMillicores: 2000, maxProcesses: 512, diskBytes: 2048 * MiB };

  it('takes the defaults for unset (0) values and the request for the rest', () => {
    expect(resolveLimits({}, bounds)).toEqual(DEFAULT_LIMITS);
    expect(resolveLimits({ memoryBytes: 128 * MiB, cpuMillicores: 0 }, bounds)).toEqual({
      ...DEFAULT_LIMITS,
      memoryBytes: 128 * MiB,
    });
  });

  it('caps the defaults at bounds lower than them', () => {
    const low = { memoryBytes: 256 * MiB, cpuMillicores: 500, maxProcesses: 64, diskBytes: 100 * MiB };
    expect(resolveLimits({}, low)).toEqual(low);
  });

  it.each([
    [
      { memoryBytes: 2048 * MiB },
      /limits\.memory_bytes 2048 MiB: must be at most 1024 MiB \(operator bound\)/,
    ],
    [{ cpuMillicores: 64_000 }, /limits\.cpu_millicores 64000 millicores: must be at most 2000 millicores/],
    [{ maxProcesses: 100_000 }, /limits\.max_processes 100000 processes: must be at most 512/],
    [{ diskBytes: 4096 * MiB }, /limits\.disk_bytes 4096 MiB: must be at most 2048 MiB/],
    [{ memoryBytes: MiB }, /limits\.memory_bytes 1 MiB: must be at least 16 MiB/],
    [{ cpuMillicores: 5 }, /must be at least 100 millicores/],
    [{ maxProcesses: 1.5 }, /limits\.max_processes/],
    [{ memoryBytes: -1 }, /limits\.memory_bytes/],
  ])('refuses %j', (requested, message) => {
    expect(() => resolveLimits(requested, bounds)).toThrow(message);
  });

  it('reports every bad field together', () => {
    try {
      resolveLimits({ memoryBytes: 2048 * MiB, maxProcesses: 1 }, bounds);
      expect.unreachable();
    } catch (err) {
      expect((err as InvalidArgumentError).violations.map((v) => v.field)).toEqual([
        'limits.memory_bytes',
        'limits.max_processes',
      ]);
    }
  });

  it('reads the bounds from PAASTECH_MAX_INSTANCE_*', () => {
    expect(
      readPomegrenadeConfig({
        PAASTECH_MAX_INSTANCE_MEMORY_MB: '256',
        PAASTECH_MAX_INSTANCE_CPU_MILLICORES: '500',
      }).limitBounds,
    ).toEqual({ memoryBytes: 256 * MiB, cpuMillicores: 500, maxProcesses: 4096, diskBytes: 10_240 * MiB });
    expect(() => readPomegrenadeConfig({ PAASTECH_MAX_INSTANCE_MEMORY_MB: '8' })).toThrow(
      /PAASTECH_MAX_INSTANCE_MEMORY_MB/,
    );
  });
});

describe('swarm published-port guard setting', () => {
  it.each([
    [{}, true],
    [{ PAASTECH_SWARM_PORT_GUARD: 'on' }, true],
    [{ PAASTECH_SWARM_PORT_GUARD: 'off' }, false],
    // Empty is unset, as for every variable.
    [{ PAASTECH_SWARM_PORT_GUARD: '' }, true],
  ])('%j → portGuard %s', (env, expected) => {
    expect(readPomegrenadeConfig(env).swarm.portGuard).toBe(expected);
  });

  it.each(['yes', 'OFF', '0', 'on '])('rejects PAASTECH_SWARM_PORT_GUARD=%j naming the variable', (value) => {
    expect(() => readPomegrenadeConfig({ PAASTECH_SWARM_PORT_GUARD: value })).toThrow(
      /PAASTECH_SWARM_PORT_GUARD/,
    );
  });
});
