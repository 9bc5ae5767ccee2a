import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { gitCli, startHarness } from './support/harness.js';

/** True when something accepts TCP connections on 127.0.0.1:port. */
function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1');
    sock.on('connect', () => {
      sock.destroy();
      resolve(true);
    });
    sock.on('error', () => resolve(false));
  });
}

describe('stopping the controller', () => {
  it('closes the HTTP and SSH ports and removes its sockets', async () => {
    const h = await startHarness();
    const httpPort = Number(new URL(h.httpBase).port);
    const hookSocket = path.join(h.dataDir, 'run', 'git-hooks.sock');
    expect(await canConnect(httpPort)).toBe(true);
    expect(await canConnect(h.sshPort)).toBe(true);
    expect(fs.existsSync(hookSocket)).toBe(true);
    h.gitClient.close();
    await h.controller.stop();
    expect(await canConnect(httpPort)).toBe(false);
    expect(await canConnect(h.sshPort)).toBe(false);
    expect(fs.existsSync(hookSocket)).toBe(false);
    expect(fs.existsSync(h.config.grpcAddress.slice('unix:'.length))).toBe(false);
    await h.control.stop();
    fs.rmSync(h.dataDir, { recursive: true, force: true });
  });
});

describe('when the API cannot be reached', () => {
  it('refuses git access with 503 and says why, instead of letting anyone in', async () => {
    const h = await startHarness();
    await h.control.stop();
    const home = path.join(h.dataDir, 'home');
    const r = await gitCli(home, { token: 'alice-token' })(
      ['ls-remote', `${h.httpBase}/shop.git`],
      h.dataDir,
    );
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('git access cannot be checked right now; try again');
    h.gitClient.close();
    await h.controller.stop();
    fs.rmSync(h.dataDir, { recursive: true, force: true });
  });
});
