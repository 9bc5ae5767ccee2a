import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  ConfigError,
  collectConfig,
  commonShape,
  grpcAddress,
  hostname,
  parseEnv,
  port,
  toCommonConfig,
} from '../src/config.js';

const schema = z.object({
  ...commonShape,
  PORT_A: port(3000),
  HOST: hostname.default('localhost'),
  ADDR: grpcAddress.optional(),
});

describe('parseEnv', () => {
  it('applies defaults, and treats empty strings as unset', () => {
    const c = parseEnv(schema, { PORT_A: '', PAASTECH_DATA_DIR: '' });
    expect(c.PORT_A).toBe(3000);
    expect(c.HOST).toBe('localhost');
    expect(c.PAASTECH_DATA_DIR).toBe('.paastech');
    expect(c.PAASTECH_LISTEN_HOST).toBe('127.0.0.1');
  });

  it('lower-cases hostnames and accepts unix and tcp gRPC addresses', () => {
    expect(parseEnv(schema, { HOST: 'Apps.Example.COM', ADDR: 'unix:/run/x.sock' }).HOST).toBe(
      'apps.example.com',
    );
    expect(parseEnv(schema, { ADDR: '127.0.0.1:5000' }).ADDR).toBe('127.0.0.1:5000');
    expect(parseEnv(schema, { ADDR: '[::1]:5000' }).ADDR).toBe('[::1]:5000');
  });

  it.each([
    ['PORT_A', 'abc', 'must be a port number'],
    ['PORT_A', '70000', 'must be between 1 and 65535'],
    ['PORT_A', '-1', 'must be between 1 and 65535'],
    ['PORT_A', '80.5', 'must be a whole number'],
    ['HOST', 'http://x.com', 'must be a DNS name'],
    ['HOST', 'a..b', 'must be a DNS name'],
    ['HOST', '-bad.com', 'must be a DNS name'],
    ['HOST', 'x.com:8080', 'must be a DNS name'],
    ['ADDR', 'unix:relative.sock', 'must be unix:/absolute/path.sock or host:port'],
    ['ADDR', 'localhost', 'must be unix:/absolute/path.sock or host:port'],
    ['PAASTECH_LOG_LEVEL', 'loud', 'Invalid option'],
    ['PAASTECH_LISTEN_HOST', '0.0.0.0; rm -rf /', 'must be an IP address or a hostname'],
    ['PAASTECH_INTERNAL_SECRET', 'short', 'at least 16 characters'],
  ])('%s=%j is refused with a message naming the rule', (variable, value, message) => {
    try {
      parseEnv(schema, { [variable]: value });
      expect.unreachable('should have thrown');
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      const e = err as ConfigError;
      expect(e.issues).toHaveLength(1);
      expect(e.issues[0]!.variable).toBe(variable);
      expect(e.issues[0]!.message).toContain(message);
      expect(e.message).toContain(`${variable}: `);
    }
  });

  it('reports every invalid variable at once', () => {
    expect(() => parseEnv(schema, { PORT_A: 'x', HOST: 'bad host', ADDR: 'nope' })).toThrow(
      /invalid configuration \(3 problems\)[\s\S]*PORT_A[\s\S]*HOST[\s\S]*ADDR/,
    );
  });
});

describe('collectConfig', () => {
  it('merges the problems of several readers, without duplicates', () => {
    const read = () => parseEnv(schema, { PORT_A: 'x' });
    const other = () => parseEnv(z.object({ B: port(1) }), { B: 'y' });
    try {
      collectConfig({ a: read, b: read, c: other });
      expect.unreachable();
    } catch (err) {
      expect((err as ConfigError).issues.map((i) => i.variable)).toEqual(['PORT_A', 'B']);
    }
  });

  it('returns every reader result when all are valid', () => {
    expect(collectConfig({ a: () => 1, b: () => 'two' })).toEqual({ a: 1, b: 'two' });
  });

  it('rethrows errors that are not configuration errors', () => {
    expect(() =>
      collectConfig({
        a: () => {
          throw new TypeError('boom');
        },
      }),
    ).toThrow(TypeError);
  });
});

describe('toCommonConfig', () => {
  it('makes the data dir absolute against the working directory', () => {
    const c = toCommonConfig(parseEnv(z.object(commonShape), { PAASTECH_DATA_DIR: 'state' }), '/srv/p');
    expect(c.dataDir).toBe('/srv/p/state');
    expect(c.internalSecret).toBeUndefined();
  });
});
