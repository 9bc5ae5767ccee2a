// PAASTECH_SANDBOX=none: apps still build and run (plain processes), and every deployment says
// loudly that they are not sandboxed.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toHostPaths } from '../src/runtime/unconfined-runtime.js';
import { fixture } from './support/git-server.js';
import { type Harness, httpGet, startHarness } from './support/pomegrenade.js';

let h: Harness;

beforeAll(async () => {
  h = await startHarness({ PAASTECH_SANDBOX: 'none' });
});

afterAll(async () => {
  await h?.stop();
});

describe('PAASTECH_SANDBOX=none', () => {
  it('deploys node and static apps and warns on every deployment', async () => {
    const hello = await h.deploy('uhello', 1, await h.repo('uhello').commitFixture(fixture('node-hello')));
    expect(hello.deployment.failure?.message).toBeUndefined();
    expect(hello.lines).toContain(
      "-----> WARNING: PAASTECH_SANDBOX=none: this app runs UNSANDBOXED, with the platform's privileges",
    );
    expect((await httpGet(h.routes.upstreams('uhello')[0] as string)).body).toBe('hello from v1 (web.1)\n');
    const site = await h.deploy('usite', 1, await h.repo('usite').commitFixture(fixture('static-site')));
    expect(site.deployment.failure?.message).toBeUndefined();
    expect((await httpGet(h.routes.upstreams('usite')[0] as string)).body).toContain(
      'Hello from a static site',
    );
  });

  it.each([
    ['/app', '/data/b/app'],
    ['/app/node_modules/.bin:/usr/bin', '/data/b/app/node_modules/.bin:/usr/bin'],
    ['/cache/npm', '/data/c/npm'],
    ['/application', '/application'],
    ['cd /app && ls /app/x', 'cd /data/b/app && ls /data/b/app/x'],
    ['/tmp/source.tar', '/data/b/source.tar'],
  ])('rewrites %s', (text, expected) => {
    const binds = [
      { host: '/data/b/app', sandbox: '/app', writable: true },
      { host: '/data/c', sandbox: '/cache', writable: true },
      { host: '/data/b/source.tar', sandbox: '/tmp/source.tar', writable: false },
    ];
    expect(toHostPaths(text, binds)).toBe(expected);
  });
});
