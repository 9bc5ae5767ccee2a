// The `dockerfile` builder of the swarm runtime: the pure parts (start command and environment
// from the image's config, shell quoting of hostile words), then end to end on a real swarm with
// the real Pomegrenade: a repository Dockerfile (FROM the harness's local base image) is built
// with its output streamed, pushed and served through the route; a failing RUN fails the
// deployment with the failing step; a build past its time limit fails as timed out; RUN steps see
// the build's memory and CPU limits (buildLimits, as the local sandbox), and one that allocates past
// its memory limit fails the build naming the limit.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SWARM_BASE_CACHE, startSwarm, swarmUnsupported, type TestSwarm } from '@paastech/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultBuilders } from '../../src/build/builders.js';
import { buildLimits } from '../../src/domain/build-runner.js';
import { DEFAULT_LIMITS, DeploymentFailedError } from '../../src/domain/model.js';
import type { BuildContext } from '../../src/domain/ports.js';
import { buildResourceQuery, DockerClient } from '../../src/runtime/swarm/docker.js';
import {
  DockerfileBuilder,
  imageEnv,
  imageWebCommand,
  shellWord,
} from '../../src/runtime/swarm/dockerfile-builder.js';
import { deleteManifest, ImageBuilder, registryTags } from '../../src/runtime/swarm/images.js';
import { fixture } from '../support/git-server.js';
import { type Harness, httpGet, startHarness } from '../support/pomegrenade.js';
import { swarmHarnessEnv } from './swarm-support.js';

describe('dockerfile builder: commands from the image config', () => {
  it.each([
    ['plain', 'plain'],
    ['/srv/server.js', '/srv/server.js'],
    ['', "''"],
    ['a b', "'a b'"],
    ["it's", "'it'\\''s'"],
    ['$(touch /tmp/pwned)', "'$(touch /tmp/pwned)'"],
    ['`id`;rm -rf /', "'`id`;rm -rf /'"],
    ['line\nbreak', "'line\nbreak'"],
  ])('quotes %j for sh', (word, quoted) => {
    expect(shellWord(word)).toBe(quoted);
    // What sh makes of it is the word itself.
    const r = spawnSync('/bin/sh', ['-c', `printf %s ${quoted}`], { encoding: 'utf8' });
    expect(r.stdout).toBe(word);
  });

  it.each([
    [{ Cmd: ['node', 'server.js'] }, 'exec node server.js'],
    [{ Entrypoint: ['/bin/app'], Cmd: ['--port', '$PORT'] }, "exec /bin/app --port '$PORT'"],
    [{ Cmd: ['node', 'a.js'], WorkingDir: '/srv/my app' }, "cd '/srv/my app' && exec node a.js"],
    [{ Cmd: null, Entrypoint: null }, null],
    [{}, null],
  ])('web command of %j', (config, command) => {
    expect(imageWebCommand(config)).toBe(command);
  });

  it('keeps the image environment, values with = intact', () => {
    expect(imageEnv({ Env: ['PATH=/opt/bin:/usr/bin', 'A=b=c', 'EMPTY=', 'junk'] })).toEqual({
      PATH: '/opt/bin:/usr/bin',
      A: 'b=c',
      EMPTY: '',
    });
  });
});

describe('dockerfile builder: detection', () => {
  it.each([
    ['a Dockerfile', { Dockerfile: 'FROM paastech/base\n' }, true],
    ['a Dockerfile beside package.json', { Dockerfile: 'FROM x\n', 'package.json': '{}' }, true],
    ['a directory named Dockerfile', { 'Dockerfile/x': 'y' }, false],
    ['a Dockerfile symlink to /etc/passwd', { Dockerfile: null }, false],
    ['dockerfile in lower case', { dockerfile: 'FROM x\n' }, false],
    ['a Dockerfile only in a subdirectory', { 'sub/Dockerfile': 'FROM x\n' }, false],
  ])('%s → %s', async (_name, files: Record<string, string | null>, detected) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pt-dfb-'));
    try {
      for (const [rel, text] of Object.entries(files)) {
        fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
        if (text === null) fs.symlinkSync('/etc/passwd', path.join(dir, rel));
        else fs.writeFileSync(path.join(dir, rel), text);
      }
      const b = new DockerfileBuilder({} as ImageBuilder, {} as DockerClient);
      expect(await b.detect(dir)).toBe(detected);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('is not among the default builders: the local runtime ignores a Dockerfile', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pt-dfb-'));
    try {
      fs.writeFileSync(path.join(dir, 'Dockerfile'), 'FROM paastech/base\n');
      const builders = defaultBuilders();
      expect(builders.map((b) => b.name)).not.toContain('dockerfile');
      for (const b of builders) expect(await b.detect(dir)).toBe(false);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

const MiB = 1024 * 1024;

describe('dockerfile builder: build limits', () => {
  it.each([
    ['the defaults: at least 2 GiB and 1024 processes', DEFAULT_LIMITS, 2048 * MiB, 1000, 1024],
    [
      'a larger deployment keeps its own',
      { memoryBytes: 3072 * MiB, cpuMillicores: 2500, maxProcesses: 2000, diskBytes: MiB },
      3072 * MiB,
      2500,
      2000,
    ],
    [
      'the smallest deployment',
      { memoryBytes: 16 * MiB, cpuMillicores: 100, maxProcesses: 8, diskBytes: MiB },
      2048 * MiB,
      100,
      1024,
    ],
  ])('%s', (_name, limits, memoryBytes, cpuMillicores, maxProcesses) => {
    expect(buildLimits(limits)).toEqual({ ...limits, memoryBytes, cpuMillicores, maxProcesses });
  });

  it.each([
    [{ memoryBytes: 2048 * MiB, cpuMillicores: 1000 }, 2048 * MiB, 10_000],
    [{ memoryBytes: 256 * MiB, cpuMillicores: 500 }, 256 * MiB, 5000],
    [{ memoryBytes: 256 * MiB, cpuMillicores: 2500 }, 256 * MiB, 25_000],
    // Below the kernel's 1 ms minimum quota: the minimum.
    [{ memoryBytes: 64 * MiB, cpuMillicores: 50 }, 64 * MiB, 1000],
  ])('POST /build query of %j: memory without swap, a CFS quota per 10 ms', (r, memory, cpuquota) => {
    expect(buildResourceQuery(r)).toEqual({ memory, memswap: memory, cpuperiod: 10_000, cpuquota });
  });
});

const unsupported = swarmUnsupported();

describe.skipIf(unsupported !== null)('dockerfile builder on a real swarm', () => {
  let swarm: TestSwarm;
  let h: Harness;
  let docker: DockerClient;

  beforeAll(async () => {
    swarm = await startSwarm();
    docker = new DockerClient(swarm.manager.socketPath);
    h = await startHarness(swarmHarnessEnv(swarm));
  }, 15 * 60_000);

  afterAll(async () => {
    await h?.stop();
    await swarm?.stop();
  }, 120_000);

  async function answer(projectId: string, timeoutMs = 60_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const up = h.routes.upstreams(projectId)[0];
      const r = up ? await httpGet(up).catch(() => null) : null;
      if (r?.status === 200) return r.body;
      if (Date.now() > deadline) throw new Error(`${projectId} does not answer (${r?.status ?? 'no route'})`);
      await new Promise((res) => setTimeout(res, 200));
    }
  }

  it(
    'builds a repository Dockerfile (before the node builder), pushes it and serves its CMD',
    async () => {
      // node-hello has a package.json too: under swarm the Dockerfile wins.
      const commit = await h.repo('dfile').commitFixture(fixture('node-hello'), {
        Dockerfile: [
          'FROM paastech/base',
          'RUN echo dockerfile-marker-$((6*7))',
          'COPY server.js /srv/',
          'WORKDIR /srv',
          'ENV GREETING=built',
          'CMD ["node", "server.js"]',
          '',
        ].join('\n'),
      });
      const { deployment, lines } = await h.deploy('dfile', 1, commit, {
        configVars: { SECRET_TOKEN: 'never-in-the-image-1234' },
      });
      const out = lines.join('\n');
      expect(deployment.failure?.message, out).toBeUndefined();
      expect(out).toContain('-----> Building with Dockerfile');
      expect(lines).toContain('build:        dockerfile-marker-42');
      expect(out).toMatch(/Step 1\/\d+ : FROM paastech\/base/);
      expect(out).toContain(`pushing ${swarm.registry}/dfile:v1`);
      expect(out).toContain('Process types: web');
      expect(await answer('dfile')).toBe('built from v1 (web.1)\n');
      // Config vars are service environment only, never in the image.
      const image = await docker.inspectImage(`${swarm.registry}/dfile:v1`);
      expect(image?.Config.Env).toContain('GREETING=built');
      expect(JSON.stringify(image)).not.toContain('never-in-the-image-1234');
      const [svc] = await docker.listServices({ label: ['paastech.project=dfile'] });
      expect(svc?.Spec.TaskTemplate.ContainerSpec.Image).toContain(`${swarm.registry}/dfile:v1`);
      expect(svc?.Spec.TaskTemplate.ContainerSpec.Env).toContain('SECRET_TOKEN=never-in-the-image-1234');
    },
    10 * 60_000,
  );

  it(
    'a config change reuses the pushed image; a Procfile overrides the image CMD',
    async () => {
      const changed = await h.deploy('dfile', 2, '0'.repeat(40), {
        source: { kind: { $case: 'buildOfDeploymentNumber', value: 1 } },
        configVars: { GREETING: 'hola' },
      });
      expect(changed.deployment.failure?.message, changed.lines.join('\n')).toBeUndefined();
      expect(changed.lines.join('\n')).not.toContain('Building with Dockerfile');
      expect(await answer('dfile')).toBe('hola from v2 (web.1)\n');

      const commit = await h.repo('dproc').commitFixture(fixture('node-hello'), {
        Dockerfile: 'FROM paastech/base\nCOPY server.js /srv/\nCMD ["sleep", "infinity"]\n',
        Procfile: 'web: GREETING=procfile exec node /srv/server.js\n',
      });
      const { deployment, lines } = await h.deploy('dproc', 1, commit);
      expect(deployment.failure?.message, lines.join('\n')).toBeUndefined();
      expect(await answer('dproc')).toBe('procfile from v1 (web.1)\n');
    },
    10 * 60_000,
  );

  it(
    'a kept image gone from the registry and the node is built again from the kept tree',
    async () => {
      const tag = `${swarm.registry}/dfile:v1`;
      expect(await deleteManifest(swarm.registry, 'dfile', 'v1')).toBe(true);
      await docker.removeImage(tag, true);
      const again = await h.deploy('dfile', 3, '0'.repeat(40), {
        source: { kind: { $case: 'buildOfDeploymentNumber', value: 1 } },
        configVars: { GREETING: 'rebuilt' },
      });
      const out = again.lines.join('\n');
      expect(again.deployment.failure?.message, out).toBeUndefined();
      expect(out).toContain(`${tag} is no longer on this node: building the Dockerfile again`);
      expect(out).toContain('build: Step 7/7 : LABEL paastech.project=dfile');
      expect(await registryTags(swarm.registry, 'dfile')).toContain('v1');
      expect(await answer('dfile')).toBe('rebuilt from v3 (web.1)\n');
    },
    10 * 60_000,
  );

  it(
    'a failing RUN fails the deployment with the failing step and its output',
    async () => {
      const commit = await h.repo('dfail').commitFixture(fixture('node-hello'), {
        Dockerfile: 'FROM paastech/base\nRUN echo about to fail && exit 3\nCMD ["node", "server.js"]\n',
      });
      const { deployment, lines } = await h.deploy('dfail', 1, commit);
      expect(deployment.failure?.reason).toBe(3); // BUILD_FAILED
      expect(deployment.failure?.message).toMatch(
        /^docker build failed at Step 2\/\d+ : RUN echo about to fail && exit 3: .*returned a non-zero code: 3/,
      );
      expect(lines).toContain('build:        about to fail');
      expect(h.routes.upstreams('dfail')).toEqual([]);
      expect(await docker.listServices({ label: ['paastech.project=dfail'] })).toEqual([]);
    },
    5 * 60_000,
  );

  it(
    'a docker build past the time limit fails as timed out',
    async () => {
      const commit = await h.repo('dslow').commitFixture(fixture('node-hello'), {
        Dockerfile: 'FROM paastech/base\nRUN sleep 120\n',
      });
      const started = Date.now();
      const { deployment } = await h.deploy('dslow', 1, commit, {
        build: { builder: '', timeoutSeconds: 15 },
      });
      expect(deployment.failure?.reason).toBe(4); // BUILD_TIMED_OUT
      expect(deployment.failure?.message).toMatch(
        /^the build ran past its time limit \(docker build at Step 2\/\d+ : RUN sleep 120\)$/,
      );
      expect(Date.now() - started).toBeLessThan(90_000);
      // The daemon's build was cancelled with it: no RUN step keeps sleeping.
      const deadline = Date.now() + 30_000;
      for (;;) {
        const left = (await docker.listContainers()).filter((c) =>
          String((c as { Command?: string }).Command).includes('sleep 120'),
        );
        if (left.length === 0) break;
        if (Date.now() > deadline) throw new Error(`build container still running: ${left[0]?.Id}`);
        await new Promise((res) => setTimeout(res, 500));
      }
    },
    5 * 60_000,
  );
  it(
    'RUN steps run under the build limits of the deployment, swap included',
    async () => {
      const files = [
        'memory/memory.limit_in_bytes',
        'memory/memory.memsw.limit_in_bytes',
        'cpu/cpu.cfs_period_us',
        'cpu/cpu.cfs_quota_us',
        'memory.max',
        'memory.swap.max',
        'cpu.max',
      ];
      const commit = await h.repo('dlimits').commitFixture(fixture('node-hello'), {
        Dockerfile: [
          'FROM paastech/base',
          `RUN for f in ${files.join(' ')}; do if [ -r /sys/fs/cgroup/$f ]; then echo "cgroup $f=$(cat /sys/fs/cgroup/$f)"; fi; done`,
          'COPY server.js /srv/',
          'WORKDIR /srv',
          'CMD ["node", "server.js"]',
          '',
        ].join('\n'),
      });
      const { deployment, lines } = await h.deploy('dlimits', 1, commit, {
        limits: { memoryBytes: 3072 * MiB, cpuMillicores: 500, maxProcesses: 256, diskBytes: 1024 * MiB },
      });
      expect(deployment.failure?.message, lines.join('\n')).toBeUndefined();
      const seen = Object.fromEntries(
        lines.flatMap((l) => {
          const m = /^build: {8}cgroup ([\w./]+)=(.*)$/.exec(l);
          return m ? [[m[1], m[2]]] : [];
        }),
      );
      const limit = String(3072 * MiB);
      const expected =
        'memory.max' in seen
          ? { 'memory.max': limit, 'memory.swap.max': '0', 'cpu.max': '5000 10000' }
          : {
              'memory/memory.limit_in_bytes': limit,
              'memory/memory.memsw.limit_in_bytes': limit,
              'cpu/cpu.cfs_period_us': '10000',
              'cpu/cpu.cfs_quota_us': '5000',
            };
      expect(seen).toEqual(expected);
    },
    10 * 60_000,
  );

  // The builder itself, with a small memory limit in its context (through Pomegrenade the floor
  // of buildLimits is 2 GiB, too much to fill in a test).
  async function buildWithLimit(
    name: string,
    dockerfile: string,
  ): Promise<{ lines: string[]; error: unknown }> {
    const appDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pt-dfb-oom-'));
    fs.writeFileSync(path.join(appDir, 'Dockerfile'), dockerfile);
    const lines: string[] = [];
    const ctx: BuildContext = {
      appDir,
      cacheDir: appDir,
      configVars: {},
      exec: () => Promise.reject(new Error('no sandbox here')),
      step: (t) => lines.push(`-----> ${t}`),
      info: (t) => lines.push(t),
      projectId: name,
      number: 1,
      signal: new AbortController().signal,
      deadline: Date.now() + 5 * 60_000,
      limits: { memoryBytes: 128 * MiB, cpuMillicores: 1000 },
    };
    const images = new ImageBuilder({ docker, registry: swarm.registry, baseCacheDir: SWARM_BASE_CACHE });
    try {
      await new DockerfileBuilder(images, docker).build(ctx);
      return { lines, error: null };
    } catch (error) {
      return { lines, error };
    } finally {
      fs.rmSync(appDir, { recursive: true, force: true });
    }
  }

  /** A RUN step that holds `mib` MiB of touched memory, then says so. */
  const allocate = (mib: number) =>
    `RUN node -e "const a = []; for (let i = 0; i < ${mib}; i++) a.push(Buffer.alloc(1 << 20, 1)); console.log('held', a.length, 'MiB')"`;

  it(
    'a RUN step under the memory limit passes',
    async () => {
      const { lines, error } = await buildWithLimit('dmemok', `FROM paastech/base\n${allocate(48)}\n`);
      expect(error).toBeNull();
      expect(lines).toContain('held 48 MiB');
    },
    5 * 60_000,
  );

  it(
    'a RUN step past the memory limit fails the build, naming the step and the limit',
    async () => {
      const { lines, error } = await buildWithLimit('dmemoom', `FROM paastech/base\n${allocate(1024)}\n`);
      expect(error, lines.join('\n')).toBeInstanceOf(DeploymentFailedError);
      const failure = (error as DeploymentFailedError).failure;
      expect(failure.reason).toBe('build_failed');
      expect(failure.message).toMatch(
        /^docker build ran out of memory at Step 2\/\d+ : RUN node -e .* \(limit 128 MiB\): The command .* returned a non-zero code: 137$/,
      );
      expect(lines).not.toContain('held 1024 MiB');
    },
    5 * 60_000,
  );
});
