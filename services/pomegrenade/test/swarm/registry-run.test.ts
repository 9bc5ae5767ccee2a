// The private registry runner (packages/kit/src/registry.ts): its generated config refuses hostile
// addresses and paths cannot break out of their YAML scalar; the real docker-registry serves the v2
// API, keeps a pushed-and-deleted blob until its next start collects it.
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { answers, registryConfig, startRegistry } from '@paastech/kit';
import { tempDir } from '@paastech/testing';
import { describe, expect, it } from 'vitest';
import { deleteManifest, registryTags } from '../../src/runtime/swarm/images.js';

describe('registryConfig', () => {
  it('listens where told, stores where told, deletes enabled', () => {
    const text = registryConfig('/data/reg "x"\nauth: none', '127.0.0.1:5000');
    expect(text).toContain('  addr: "127.0.0.1:5000"');
    // The path stays one quoted scalar: its quote and newline cannot start a key of their own.
    expect(text).toContain('    rootdirectory: "/data/reg \\"x\\"\\nauth: none"');
    expect(text).not.toMatch(/^auth:/m);
    expect(text).toContain('  delete:\n    enabled: true');
  });

  it.each([
    '0.0.0.0',
    ':5000',
    '127.0.0.1:5000\nauth: x',
    'example.com:5000',
    '127.0.0.1:5000 ',
    'http://127.0.0.1:5000',
    // Every interface: an unauthenticated registry with deletes enabled, open to whoever reaches the host.
    '0.0.0.0:5000',
    '000.0.0.0:5000',
  ])('refuses address %j', (a) => {
    expect(() => registryConfig('/d', a)).toThrow(/must be ipv4:port/);
  });
});

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

/** One request to the registry; resolves with status and headers. */
function request(
  method: string,
  url: string,
  body?: Buffer,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Pushes a one-layer image by hand (v2 API: blob uploads, then the manifest). */
async function pushByHand(address: string, repo: string, tag: string): Promise<void> {
  const base = `http://${address}/v2/${repo}`;
  const upload = async (blob: Buffer) => {
    const digest = `sha256:${crypto.createHash('sha256').update(blob).digest('hex')}`;
    const start = await request('POST', `${base}/blobs/uploads/`);
    const location = new URL(String(start.headers.location), `http://${address}`);
    location.searchParams.set('digest', digest);
    const put = await request('PUT', location.toString(), blob, {
      'Content-Type': 'application/octet-stream',
    });
    expect(put.status).toBe(201);
    return { digest, size: blob.length };
  };
  const layer = await upload(crypto.randomBytes(64));
  const config = await upload(
    Buffer.from(
      JSON.stringify({
        architecture: 'amd64',
        os: 'linux',
        rootfs: { type: 'layers', diff_ids: [layer.digest] },
      }),
    ),
  );
  const manifest = {
    schemaVersion: 2,
    mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
    config: { mediaType: 'application/vnd.docker.container.image.v1+json', ...config },
    layers: [{ mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip', ...layer }],
  };
  const put = await request('PUT', `${base}/manifests/${tag}`, Buffer.from(JSON.stringify(manifest)), {
    'Content-Type': manifest.mediaType,
  });
  expect(put.status).toBe(201);
}

/** Sizes of the blobs stored (bytes of every data file under the storage dir). */
function blobBytes(dir: string): number {
  const blobs = path.join(dir, 'storage/docker/registry/v2/blobs');
  if (!fs.existsSync(blobs)) return 0;
  return (fs.readdirSync(blobs, { recursive: true }) as string[])
    .map((f) => path.join(blobs, f))
    .filter((f) => f.endsWith('/data'))
    .reduce((n, f) => n + fs.statSync(f).size, 0);
}

describe.skipIf(!fs.existsSync('/usr/bin/docker-registry'))('startRegistry', () => {
  it('serves the v2 API, deletes manifests, and collects their blobs at the next start', async () => {
    const dir = tempDir();
    const address = `127.0.0.1:${await freePort()}`;
    let reg = await startRegistry({ dir, address });
    try {
      expect(await answers(address)).toBe(true);
      await pushByHand(address, 'hello', 'v1');
      await pushByHand(address, 'hello', 'v2');
      expect((await registryTags(address, 'hello')).sort()).toEqual(['v1', 'v2']);
      const before = blobBytes(dir);
      expect(before).toBeGreaterThan(128);
      expect(await deleteManifest(address, 'hello', 'v1')).toBe(true);
      expect(await deleteManifest(address, 'hello', 'v1')).toBe(false);
      expect(await registryTags(address, 'hello')).toEqual(['v2']);
      await reg.stop();
      expect(await answers(address)).toBe(false);
      reg = await startRegistry({ dir, address });
      expect(await registryTags(address, 'hello')).toEqual(['v2']);
      expect(blobBytes(dir)).toBeLessThan(before);
    } finally {
      await reg.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);

  it('reports why it did not start (address taken)', async () => {
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
    const { port } = blocker.address() as net.AddressInfo;
    const dir = tempDir();
    try {
      await expect(startRegistry({ dir, address: `127.0.0.1:${port}` })).rejects.toThrow(
        `registry on 127.0.0.1:${port} did not start: listen tcp 127.0.0.1:${port}: bind: address already in use`,
      );
    } finally {
      blocker.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 30_000);
});
