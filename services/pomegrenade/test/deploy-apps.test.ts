// Each fixture app deployed for real: GetArchive from a real repository, the real builders in the
// bubblewrap build sandbox, instances under LocalRuntime, health-gated routes.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from './support/fake-engine.js';
import { fixture } from './support/git-server.js';
import { type Harness, httpGet, startHarness } from './support/pomegrenade.js';

let h: Harness;

/** The directory of a project's process groups (cgroup v1 memory hierarchy) of this harness. */
function groupsDir(projectId: string): string {
  const tag = createHash('sha256').update(path.join(h.dataDir, 'pomegrenade')).digest('hex').slice(0, 10);
  return path.join('/sys/fs/cgroup/memory', `paastech-${tag}`, projectId);
}

/** The project's process groups under this harness's cgroup root. */
function processGroups(projectId: string): string[] {
  const dir = groupsDir(projectId);
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? [e.name] : []));
}

/** The operator's buildpacks directory of this harness: the fixture buildpack, installed. */
let buildpacksDir: string;

beforeAll(async () => {
  buildpacksDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgr-buildpacks-'));
  fs.chmodSync(buildpacksDir, 0o755);
  fs.cpSync(fixture('custom-buildpack'), path.join(buildpacksDir, 'custom-buildpack'), { recursive: true });
  // Not a buildpack (no bin/compile): never listed as installed.
  fs.mkdirSync(path.join(buildpacksDir, 'half-installed'));
  h = await startHarness({ PAASTECH_BUILDPACKS_DIR: buildpacksDir });
});

afterAll(async () => {
  await h?.stop();
  fs.rmSync(buildpacksDir, { recursive: true, force: true });
});

describe('deploying fixture apps', () => {
  it('node-hello: builds with node, answers at its route with its config', async () => {
    const commit = await h.repo('hello').commitFixture(fixture('node-hello'));
    const { deployment, lines } = await h.deploy('hello', 1, commit, {
      configVars: { GREETING: 'bonjour-secret-x' },
    });
    expect(deployment.failure?.message).toBeUndefined();
    expect(deployment.builder).toBe('node');
    expect(deployment.processTypes).toEqual(['web']);
    expect(lines).toContain('-----> Fetching source');
    expect(lines.some((l) => l.startsWith('-----> Building with node v'))).toBe(true);
    const [up] = h.routes.upstreams('hello');
    expect(up).toMatch(/^\d+\.\d+\.\d+\.\d+:\d+$/);
    expect((await httpGet(up as string)).body).toBe('bonjour-secret-x from v1 (web.1)\n');
    // web.1 runs in the sandbox set up while the build ran (its id ends in "p"), the only one.
    expect(processGroups('hello')).toEqual([expect.stringMatching(/^v1-web-1-[0-9a-z]+p$/)]);
    // `node server.js` ran as `exec node server.js` (execForm): the app's only process is node itself.
    const group = path.join(groupsDir('hello'), processGroups('hello')[0] as string);
    const appUid = fs.statSync('/proc/self').uid;
    const appProcesses = fs
      .readFileSync(path.join(group, 'cgroup.procs'), 'utf8')
      .split('\n')
      .filter(Boolean)
      .filter((pid) => fs.statSync(`/proc/${pid}`).uid !== appUid)
      .map((pid) => fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim());
    expect(appProcesses).toEqual(['node']);
  });

  it('node-dep: installs an npm dependency, then reuses node_modules when the lockfile is unchanged', async () => {
    const repo = h.repo('dep');
    const c1 = await repo.commitFixture(fixture('node-dep'));
    const first = await h.deploy('dep', 1, c1);
    expect(first.deployment.failure?.message, first.lines.join('\n')).toBeUndefined();
    expect(first.lines).toContain('-----> Installing dependencies (npm ci)');
    expect((await httpGet(h.routes.upstreams('dep')[0] as string)).body).toBe('two days is 172800000 ms\n');
    const c2 = await repo.commitFixture(fixture('node-dep'), { 'README.md': 'changed\n' });
    const second = await h.deploy('dep', 2, c2);
    expect(second.deployment.failure?.message).toBeUndefined();
    expect(second.lines).toContain('-----> Reusing node_modules (lockfile unchanged)');
    expect(second.lines).not.toContain('-----> Installing dependencies (npm ci)');
    expect((await httpGet(h.routes.upstreams('dep')[0] as string)).body).toBe('two days is 172800000 ms\n');
  });

  it('static-site: served with content types, ETag, compression and the 404 page', async () => {
    const commit = await h.repo('site').commitFixture(fixture('static-site'));
    const { deployment } = await h.deploy('site', 1, commit);
    expect(deployment.failure?.message).toBeUndefined();
    expect(deployment.builder).toBe('static');
    const up = h.routes.upstreams('site')[0] as string;
    const page = await httpGet(up, '/');
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(page.body).toContain('Hello from a static site');
    const etag = page.headers.get('etag') as string;
    expect(etag).toMatch(/^".+"$/);
    expect((await httpGet(up, '/', { 'if-none-match': etag })).status).toBe(304);
    expect((await httpGet(up, '/style.css')).headers.get('content-type')).toBe('text/css; charset=utf-8');
    const gz = await fetch(`http://${up}/`, { headers: { 'accept-encoding': 'gzip' } });
    expect(gz.headers.get('content-encoding')).toBe('gzip');
    const missing = await httpGet(up, '/nope');
    expect(missing.status).toBe(404);
    expect(missing.body).toContain('custom 404 page');
  });

  it.each([['/../../etc/passwd'], ['/%2e%2e/%2e%2e/etc/passwd'], ['/..%2f..%2fetc%2fpasswd'], ['/%00']])(
    'static-site: refuses traversal %s',
    async (p) => {
      const up = h.routes.upstreams('site')[0] as string;
      const res = await httpGet(up, p);
      expect(res.status).toBe(404);
      expect(res.body).not.toContain('root:');
    },
  );

  it('python-stdlib: venv per build, started from the Procfile', async () => {
    const commit = await h.repo('py').commitFixture(fixture('python-stdlib'));
    const { deployment } = await h.deploy('py', 1, commit);
    expect(deployment.failure?.message).toBeUndefined();
    expect(deployment.builder).toBe('python');
    expect((await httpGet(h.routes.upstreams('py')[0] as string)).body).toBe(
      'hello from python in /app/.venv\n',
    );
  });

  it('procfile-web-worker: runs web and worker, worker output reaches the logs', async () => {
    const commit = await h.repo('ww').commitFixture(fixture('procfile-web-worker'));
    const { deployment } = await h.deploy('ww', 1, commit, { formation: { web: 1, worker: 1 } });
    expect(deployment.failure?.message).toBeUndefined();
    expect(deployment.processTypes.sort()).toEqual(['web', 'worker']);
    expect((await httpGet(h.routes.upstreams('ww')[0] as string)).body).toBe('web is up\n');
    await new Promise((r) => setTimeout(r, 1500));
    const logs = await readLogs('ww', ['worker'], 20);
    expect(logs).toContain('worker.1: worker started');
  });

  it('build-fails: the deployment fails with the build output, nothing is routed', async () => {
    const commit = await h.repo('bf').commitFixture(fixture('build-fails'));
    const { deployment, lines } = await h.deploy('bf', 1, commit);
    // The web.1 sandbox prepared during the build is gone with it, and so is its app directory.
    await eventually(() => processGroups('bf').length === 0, 5000, 'no process group of bf');
    expect(fs.existsSync(path.join(h.dataDir, 'pomegrenade', 'projects', 'bf', 'builds', 'v1'))).toBe(false);
    expect(deployment.failure?.message).toBe('build command "npm run build" exited with code 2');
    expect(lines).toContain('build: compile error: missing semicolon');
    expect(h.routes.upstreams('bf')).toEqual([]);
  });

  it('a build past its time limit fails as timed out', async () => {
    const commit = await h.repo('slow').commitFixture(fixture('node-hello'), {
      'package.json': JSON.stringify({
        name: 'slow',
        scripts: { build: 'sleep 60', start: 'node server.js' },
      }),
    });
    const started = Date.now();
    const { deployment } = await h.deploy('slow', 1, commit, { build: { builder: '', timeoutSeconds: 2 } });
    expect(deployment.failure?.message).toBe('the build ran past its time limit of 2s');
    expect(deployment.failure?.reason).toBe(4); // BUILD_TIMED_OUT
    expect(Date.now() - started).toBeLessThan(15_000);
  });

  it('a forced builder that does not exist fails with the known ones', async () => {
    const commit = await h.repo('forced').commitFixture(fixture('node-hello'));
    const { deployment } = await h.deploy('forced', 1, commit, {
      build: { builder: 'dockerfile', timeoutSeconds: 0 },
    });
    expect(deployment.failure?.message).toBe(
      'builder "dockerfile" does not exist (known: node, static, python, procfile)',
    );
  });

  it('crash-on-start: fails with the exit code and the last lines of the app; the previous deployment keeps serving', async () => {
    const repo = h.repo('crash');
    const good = await repo.commitFixture(fixture('node-hello'));
    await h.deploy('crash', 1, good);
    const before = h.routes.upstreams('crash');
    const bad = await repo.commitFixture(fixture('crash-on-start'));
    const { deployment, lines } = await h.deploy('crash', 2, bad);
    expect(deployment.failure?.message).toBe('web.1 crashed on start: exited with code 3');
    expect(lines).toContain('web.1: fatal: DATABASE_URL is not set');
    expect(h.routes.upstreams('crash')).toEqual(before);
    expect((await httpGet(before[0] as string)).body).toBe('hello from v1 (web.1)\n');
  });

  it('wrong-port: diagnosed as listening on 127.0.0.1:3000 instead of $PORT', async () => {
    const commit = await h.repo('wp').commitFixture(fixture('wrong-port'));
    const { deployment } = await h.deploy('wp', 1, commit, { healthCheck: { path: '/', timeoutSeconds: 3 } });
    expect(deployment.failure?.message).toMatch(
      /^web\.1 listens on 127\.0\.0\.1:3000, not on the port in \$PORT \(\d+\): read the port from the PORT environment variable$/,
    );
  });
});

/** Reads the last lines of a project's logs as "source: text". */
async function readLogs(projectId: string, sources: string[], tail: number): Promise<string[]> {
  const { deploy } = await import('@paastech/proto');
  const { internalMetadata } = await import('@paastech/kit');
  return new Promise((resolve, reject) => {
    const out: string[] = [];
    const call = h.client.streamLogs(
      { projectId, follow: false, sources, tailLines: tail },
      internalMetadata(h.env.PAASTECH_INTERNAL_SECRET as string),
    );
    call.on('data', (m: InstanceType<typeof Object> & { lines: Array<{ source: string; text: string }> }) => {
      for (const l of m.lines) out.push(`${l.source}: ${l.text}`);
    });
    call.on('end', () => resolve(out));
    call.on('error', reject);
    void deploy;
  });
}

describe('custom buildpack', () => {
  it('builds with bin/detect, bin/compile (cache and env dir) and bin/release; runs .profile.d', async () => {
    const repo = h.repo('bp');
    const build = { builder: '', timeoutSeconds: 0, buildpackUrl: 'custom-buildpack' };
    const first = await h.deploy('bp', 1, await repo.commitFixture(fixture('buildpack-app')), {
      build,
      configVars: { SECRET: 'bp-secret-value' },
    });
    expect(first.deployment.failure?.message, first.lines.join('\n')).toBeUndefined();
    expect(first.deployment.builder).toBe('buildpack');
    expect(first.lines).toContain('-----> Using buildpack custom-buildpack (installed on this platform)');
    expect(first.lines).toContain('-----> Building with buildpack greeting');
    expect(first.lines).toContain('build: -----> compiling with the test buildpack');
    expect(first.lines).toContain('build:        secret is [hidden]');
    expect((await httpGet(h.routes.upstreams('bp')[0] as string)).body).toBe(
      'hello from the buildpack profile-ok build 1\n',
    );
    const second = await h.deploy('bp', 2, await repo.commit('again'), { build });
    expect(second.deployment.failure?.message).toBeUndefined();
    expect((await httpGet(h.routes.upstreams('bp')[0] as string)).body).toBe(
      'hello from the buildpack profile-ok build 2\n',
    );
  });

  const SHAPE = 'must be the name of an installed buildpack or an https:// git URL';
  const INSTALLED = '(installed: custom-buildpack)';
  it.each([
    // A host directory is never a buildpack, even the installed one by its path.
    ['absolute path', '/etc', SHAPE],
    ['absolute path of an installed buildpack', '<dir>/custom-buildpack', SHAPE],
    ['relative path', 'buildpacks/x', SHAPE],
    ['dot-dot', '..', SHAPE],
    ['dot-dot path', '../custom-buildpack', SHAPE],
    ['file URL', 'file:///etc', SHAPE],
    ['http URL', 'http://example.com/bp.git', SHAPE],
    ['option-like', '--upload-pack=touch /tmp/x', SHAPE],
    ['ssh URL', 'ssh://example.com/bp.git', SHAPE],
    ['URL with credentials', 'https://user:pass@example.com/bp.git', SHAPE],
    ['option-like ref', 'https://example.com/bp.git#--upload-pack=x', 'must be a branch or tag name'],
    [
      'unknown name',
      'heroku-python',
      `buildpack "heroku-python" is not installed on this platform ${INSTALLED}`,
    ],
    [
      'directory without bin/compile',
      'half-installed',
      `"half-installed" is not installed on this platform ${INSTALLED}`,
    ],
  ])('refuses a %s buildpack', async (_name, value, message) => {
    const url = value.replace('<dir>', buildpacksDir);
    const repo = h.repo('bpbad');
    const commit = await repo.commitFixture(fixture('buildpack-app'));
    const n = Number(Date.now() % 1_000_000);
    const { deployment } = await h.deploy('bpbad', n, commit, {
      build: { builder: '', timeoutSeconds: 0, buildpackUrl: url },
    });
    expect(deployment.failure?.reason).toBe(2); // NO_BUILDER
    expect(deployment.failure?.message).toContain(message);
  });
});

describe('hostile source trees', () => {
  it('a .paastech symlink in a static site does not make the platform write outside the tree', async () => {
    const outside = fs.mkdtempSync(path.join(os.tmpdir(), 'outside-'));
    const repo = h.repo('evilsite');
    await repo.commitFixture(fixture('static-site'));
    fs.symlinkSync(outside, path.join(repo.work, '.paastech'));
    const { deployment } = await h.deploy('evilsite', 1, await repo.commit('symlink'));
    expect(deployment.failure?.message).toBeUndefined();
    expect(fs.readdirSync(outside)).toEqual([]);
    expect((await httpGet(h.routes.upstreams('evilsite')[0] as string)).body).toContain(
      'Hello from a static site',
    );
  });

  it('a node_modules symlink does not receive the cached modules', async () => {
    const outside = fs.mkdtempSync(path.join(os.tmpdir(), 'outside-'));
    const repo = h.repo('evilnode');
    await h.deploy('evilnode', 1, await repo.commitFixture(fixture('node-dep')));
    await repo.commitFixture(fixture('node-dep'));
    fs.symlinkSync(outside, path.join(repo.work, 'node_modules'));
    const { deployment, lines } = await h.deploy('evilnode', 2, await repo.commit('symlink'));
    expect(deployment.failure?.message).toBeUndefined();
    expect(lines).toContain('-----> Reusing node_modules (lockfile unchanged)');
    expect(fs.readdirSync(outside)).toEqual([]);
  });
});
