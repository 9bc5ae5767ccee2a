// The `dockerfile` builder of the swarm runtime: the pure parts (start command and environment
// from the image's config, shell quoting of hostile words), then end to end on a real swarm with
// the real Pomegrenade: a repository Dockerfile (FROM the harness's local base image) is built
// with its output streamed, pushed and served through the route; a failing RUN fails the
// deployment with the failing step; a build past its time limit fails as timed out.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startSwarm, swarmUnsupported, type TestSwarm } from '@paastech/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultBuilders } from '../../src/build/builders.js';
import { DockerClient } from '../../src/runtime/swarm/docker.js';
import {
  DockerfileBuilder,
  imageEnv,
  imageWebCommand,
  shellWord,
} from '../../src/runtime/swarm/dockerfile-builder.js';
import { deleteManifest, type ImageBuilder, registryTags } from '../../src/runtime/swarm/images.js';
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
});
