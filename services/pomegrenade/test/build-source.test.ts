// The source archive of a build streams from the git controller straight into `tar -x` in the build
// sandbox. These cases drive runBuild with a real sandbox and sources that behave well or badly,
// and check which failure a person is told about.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createLogger } from '@paastech/kit';
import { afterAll, describe, expect, it } from 'vitest';
import { defaultBuilders } from '../src/build/builders.js';
import { runBuild, type SourceFetcher } from '../src/domain/build-runner.js';
import { DEFAULT_LIMITS } from '../src/domain/model.js';
import { LocalRuntime, sandboxUnavailableReason } from '../src/runtime/local-runtime.js';
import { fixture } from './support/git-server.js';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'pbs-'));
const logger = createLogger('t', { level: 'silent', format: 'json' });
let runtime: LocalRuntime | undefined;

afterAll(async () => {
  await runtime?.cleanupLeftovers();
  fs.rmSync(root, { recursive: true, force: true });
});

/** The tar archive of a fixture app, as the git controller would stream it. */
async function archiveOf(name: string): Promise<Buffer> {
  const tar = spawn('tar', ['-cf', '-', '-C', fixture(name), '.'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const chunks: Buffer[] = [];
  for await (const c of tar.stdout) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** A source writing `bytes` and then ending, or failing with `error` after them. */
function sourceOf(bytes: Buffer, error?: string): SourceFetcher {
  return {
    async fetch(_req, dest: Writable) {
      if (error === undefined) {
        await pipeline([bytes], dest);
        return;
      }
      await new Promise<void>((resolve) => dest.write(bytes, () => resolve()));
      dest.destroy();
      throw new Error(error);
    },
  };
}

let n = 0;
/** Runs one build of project `p` from `source`; resolves with the build or the failure. */
async function build(source: SourceFetcher) {
  runtime ??= new LocalRuntime({
    sandbox: 'bwrap',
    stateDir: path.join(root, 'state'),
    logger,
    network: null,
  });
  n++;
  const dir = path.join(root, `p${n}`);
  const lines: string[] = [];
  try {
    const info = await runBuild(
      {
        projectId: `p${n}`,
        number: 1,
        commitSha: 'c'.repeat(40),
        builder: '',
        buildpackUrl: '',
        buildpacksDir: '/nonexistent',
        timeoutSeconds: 60,
        configVars: {},
        limits: DEFAULT_LIMITS,
        uid: 250_200 + n,
        artifactDir: path.join(dir, 'builds', 'v1'),
        cacheDir: path.join(dir, 'cache'),
        signal: new AbortController().signal,
        step: (t) => lines.push(`-----> ${t}`),
        line: (t) => lines.push(t),
      },
      { runtime, builders: defaultBuilders(), source },
    );
    return { info, dir, lines };
  } catch (err) {
    return { failure: (err as { failure?: { reason: string; message: string } }).failure, dir, lines };
  }
}

describe.skipIf(sandboxUnavailableReason() !== null)('the source archive of a build', () => {
  it('is unpacked whole from the stream into the build tree', async () => {
    const r = await build(sourceOf(await archiveOf('node-hello')));
    expect(r.failure).toBeUndefined();
    expect(r.info?.builder).toBe('node');
    const server = path.join(r.dir, 'builds', 'v1', 'app', 'server.js');
    expect(fs.readFileSync(server, 'utf8')).toBe(
      fs.readFileSync(path.join(fixture('node-hello'), 'server.js'), 'utf8'),
    );
    // No copy of the archive is left anywhere in the build.
    expect(fs.readdirSync(path.join(r.dir, 'builds', 'v1')).sort()).toEqual(['app']);
  });

  it.each([
    ['fails before sending anything', 0, 'git controller unavailable'],
    ['fails half-way through the archive', 0.5, 'stream reset by the git controller'],
  ])('reports the source as unavailable when it %s', async (_case, fraction, error) => {
    const archive = await archiveOf('node-hello');
    const r = await build(sourceOf(archive.subarray(0, Math.floor(archive.length * fraction)), error));
    expect(r.failure).toEqual({
      reason: 'source_unavailable',
      message: `cannot fetch commit cccccccccccc: ${error}`,
    });
    expect(fs.existsSync(path.join(r.dir, 'builds', 'v1'))).toBe(false);
  });

  it('reports a corrupt archive as a failed build command, not as an unavailable source', async () => {
    const r = await build(sourceOf(Buffer.from('this is not a tar archive\n'.repeat(100))));
    expect(r.failure?.reason).toBe('build_failed');
    expect(r.failure?.message).toMatch(/^build command "tar -x/);
    expect(fs.existsSync(path.join(r.dir, 'builds', 'v1'))).toBe(false);
  });
});
