// Deployment images against a real dockerd + swarm + registry (packages/testing/src/swarm.ts): the
// base image, an artifact becoming <registry>/<project>:v<N>, pushed, run as a Swarm service that
// answers through a host-mode port; a repository Dockerfile built with its output streamed; removal
// from the registry and the node.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  docker as dockerCli,
  REPO_ROOT,
  SWARM_BASE_CACHE,
  startSwarm,
  swarmUnsupported,
  type TestSwarm,
} from '@paastech/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DockerClient, DockerError } from '../../src/runtime/swarm/docker.js';
import { ImageBuilder, registryTags } from '../../src/runtime/swarm/images.js';
import { answerOf, waitForTasks } from './swarm-support.js';

const unsupported = swarmUnsupported();
/** The limits a default build gets (buildLimits). */
const RESOURCES = { memoryBytes: 2 * 1024 ** 3, cpuMillicores: 1000 };

describe.skipIf(unsupported !== null)('deployment images on a real swarm', () => {
  let swarm: TestSwarm;
  let docker: DockerClient;
  let images: ImageBuilder;
  let base: string;
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'pt-imgtest-'));

  beforeAll(async () => {
    swarm = await startSwarm();
    docker = new DockerClient(swarm.manager.socketPath);
    images = new ImageBuilder({ docker, registry: swarm.registry, baseCacheDir: SWARM_BASE_CACHE });
    base = await images.ensureBaseImage();
  }, 15 * 60_000);

  afterAll(async () => {
    await swarm?.stop();
    fs.rmSync(scratch, { recursive: true, force: true });
  }, 120_000);

  it('has a base image with the host node, npm, python3 and CA certificates', async () => {
    expect(base).toMatch(/^paastech\/base:[0-9a-f]{16}$/);
    const out = await dockerCli(swarm.manager.socketPath, [
      'run',
      '--rm',
      '--network',
      'none',
      base,
      '/bin/sh',
      '-c',
      'node --version; npm --version; python3 -c "import ssl; print(ssl.OPENSSL_VERSION[:7])"; ls /etc/ssl/certs/ca-certificates.crt',
    ]);
    const [node, npm, ssl, certs] = out.trim().split('\n');
    expect(node).toBe(process.version);
    expect(npm).toMatch(/^\d+\.\d+\.\d+$/);
    expect(ssl).toBe('OpenSSL');
    expect(certs).toBe('/etc/ssl/certs/ca-certificates.crt');
    // Asking again finds it in place: no rebuild, same tag.
    expect(await images.ensureBaseImage()).toBe(base);
  });

  it('turns an artifact into <registry>/<project>:v1, pushes it, and runs it as a service that answers', async () => {
    const artifact = path.join(scratch, 'v1-app');
    fs.cpSync(path.join(REPO_ROOT, 'e2e/fixtures/apps/node-hello'), artifact, { recursive: true });
    const lines: string[] = [];
    const tag = await images.buildImage({
      artifactDir: artifact,
      project: 'hello',
      number: 1,
      processes: { web: 'node server.js', worker: 'echo worker ran; sleep 3600' },
      env: { NODE_ENV: 'production', PATH: '/app/node_modules/.bin:/usr/local/bin:/usr/bin:/bin' },
      onLine: (l) => lines.push(l),
    });
    expect(tag).toBe(`${swarm.registry}/hello:v1`);
    expect(lines.some((l) => /^Step 1\/\d+ : FROM paastech\/base:/.test(l))).toBe(true);
    const inspect = await docker.inspectImage(tag);
    expect(inspect?.Config.Labels).toMatchObject({
      'paastech.project': 'hello',
      'paastech.deployment': 'v1',
      'paastech.processes': 'web,worker',
    });
    expect(inspect?.Config.Env).toContain('NODE_ENV=production');

    const digest = await images.pushImage(tag);
    expect(digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(await registryTags(swarm.registry, 'hello')).toEqual(['v1']);

    const id = await docker.createService({
      Name: 'hello-web',
      Labels: { 'paastech.project': 'hello' },
      TaskTemplate: {
        ContainerSpec: {
          Image: tag,
          Args: ['web'],
          Env: ['PORT=8080', 'GREETING=bonjour', 'PAASTECH_DEPLOYMENT=v1'],
        },
      },
      Mode: { Replicated: { Replicas: 1 } },
      EndpointSpec: { Ports: [{ Protocol: 'tcp', TargetPort: 8080, PublishMode: 'host' }] },
    });
    const [task] = await waitForTasks(docker, id, 1);
    const port = task!.Status.PortStatus?.Ports?.[0]?.PublishedPort;
    expect(port).toBeGreaterThan(0);
    expect(await answerOf(`http://${swarm.manager.address}:${port}/`)).toMatch(/^bonjour from v1 /);

    const logLines: string[] = [];
    const logs = await docker.serviceLogs(id, { follow: false }, (l) =>
      logLines.push(`${l.details['com.docker.swarm.task.id']}|${l.stream}|${l.text}`),
    );
    await logs.done;
    expect(logLines).toContain(`${task!.ID}|stdout|listening on 8080`);

    // The other process type of the same image.
    const worker = await docker.createService({
      Name: 'hello-worker',
      TaskTemplate: { ContainerSpec: { Image: tag, Args: ['worker'] } },
      Mode: { Replicated: { Replicas: 1 } },
    });
    await waitForTasks(docker, worker, 1);
    await expect
      .poll(
        async () => {
          const out: string[] = [];
          await (await docker.serviceLogs(worker, {}, (l) => out.push(l.text))).done;
          return out;
        },
        { timeout: 30_000 },
      )
      .toContain('worker ran');
    await docker.removeService(worker);
    await docker.removeService(id);
  }, 180_000);

  it('refuses to run a process type the image does not have', async () => {
    const artifact = path.join(scratch, 'v2-app');
    fs.mkdirSync(artifact);
    fs.writeFileSync(path.join(artifact, 'x'), '');
    const tag = await images.buildImage({
      artifactDir: artifact,
      project: 'bad',
      number: 2,
      processes: { web: 'true' },
      env: {},
    });
    const run = dockerCli(swarm.manager.socketPath, ['run', '--rm', '--network', 'none', tag, 'nope; id']);
    await expect(run).rejects.toThrow(/bad process type "nope; id"/);
    await expect(
      dockerCli(swarm.manager.socketPath, ['run', '--rm', '--network', 'none', tag, 'clock']),
    ).rejects.toThrow(/no process type "clock"/);
  }, 120_000);

  it('builds a repository Dockerfile with its output streamed, and reports a failing step', async () => {
    const repo = path.join(scratch, 'repo');
    fs.mkdirSync(repo);
    fs.writeFileSync(path.join(repo, 'server.js'), 'console.log("from dockerfile")\n');
    fs.writeFileSync(
      path.join(repo, 'Dockerfile'),
      'FROM paastech/base\nRUN echo built-marker-$((6*7))\nCOPY server.js /srv/\nCMD ["node", "/srv/server.js"]\n',
    );
    const lines: string[] = [];
    const tag = await images.buildFromDockerfile({
      contextDir: repo,
      resources: RESOURCES,
      project: 'dockerfile-app',
      number: 1,
      onLine: (l) => lines.push(l),
    });
    expect(tag).toBe(`${swarm.registry}/dockerfile-app:v1`);
    expect(lines).toContain('built-marker-42');
    const out = await dockerCli(swarm.manager.socketPath, ['run', '--rm', '--network', 'none', tag]);
    expect(out.trim()).toBe('from dockerfile');

    fs.writeFileSync(
      path.join(repo, 'Dockerfile.bad'),
      'FROM paastech/base\nRUN echo about to fail && exit 3\n',
    );
    const failed: string[] = [];
    const build = images.buildFromDockerfile({
      contextDir: repo,
      resources: RESOURCES,
      project: 'dockerfile-app',
      number: 2,
      dockerfile: 'Dockerfile.bad',
      onLine: (l) => failed.push(l),
    });
    await expect(build).rejects.toThrow(DockerError);
    await expect(build).rejects.toThrow(/returned a non-zero code: 3/);
    expect(failed).toContain('about to fail');

    await expect(
      images.buildFromDockerfile({
        contextDir: repo,
        resources: RESOURCES,
        project: 'x',
        number: 3,
        dockerfile: '../Dockerfile',
        onLine: () => {},
      }),
    ).rejects.toThrow(/inside the repository/);
  }, 180_000);

  it('deletes an image from the registry and the node', async () => {
    const artifact = path.join(scratch, 'rm-app');
    fs.mkdirSync(artifact);
    fs.writeFileSync(path.join(artifact, 'a'), 'a');
    const v1 = await images.buildImage({
      artifactDir: artifact,
      project: 'gone',
      number: 1,
      processes: { web: 'true' },
      env: {},
    });
    const v2 = await images.buildImage({
      artifactDir: artifact,
      project: 'gone',
      number: 2,
      processes: { web: 'true' },
      env: {},
    });
    await images.pushImage(v1);
    await images.pushImage(v2);
    expect((await registryTags(swarm.registry, 'gone')).sort()).toEqual(['v1', 'v2']);
    expect(await images.removeImage(v1)).toBe(true);
    expect(await registryTags(swarm.registry, 'gone')).toEqual(['v2']);
    expect(await docker.inspectImage(v1)).toBeNull();
    expect(await docker.inspectImage(v2)).not.toBeNull();
    // Removing again is not an error, and says it was not there.
    expect(await images.removeImage(v1)).toBe(false);
  }, 120_000);
});
