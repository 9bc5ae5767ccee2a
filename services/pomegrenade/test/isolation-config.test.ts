// Configuration of instance isolation: the network range (or "host") and the egress default.
import { describe, expect, it } from 'vitest';
import { readPomegrenadeConfig } from '../src/config.js';

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
