#!/usr/bin/env node
// bench/push-to-live/swarm.mjs: push-to-live of the hello-world Node app on PAASTECH_RUNTIME=swarm
// against local, side by side in the same run (median of N, default 5), plus the time for a
// redeploy (a config change: no build, a new image is not needed) to become live on each.
// Swarm: a throw-away one-node swarm of @paastech/testing (dockerd in a netns, its own registry);
// local: the bubblewrap sandbox. "Live" = the route lists an instance of vN and it answers as vN.
//
// Needs `npm run build`, root, bubblewrap, docker.io + docker-registry + debootstrap.
// Usage: node bench/push-to-live/swarm.mjs [runs]
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { createLogger, internalMetadata, serveGrpc } from '@paastech/kit';
import { readPomegrenadeConfig, startPomegrenade } from '@paastech/pomegrenade';
import { deploy, git, routing } from '@paastech/proto';
import { SWARM_BASE_CACHE, startSwarm } from '@paastech/testing';

const RUNS = Number(process.argv[2] ?? 5);
const SECRET = 'bench-internal-secret-0123456789';
const APP = path.resolve(import.meta.dirname, '../../e2e/fixtures/apps/node-hello');
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-ptl-swarm-'));
const env = {
  ...process.env,
  GIT_AUTHOR_NAME: 'b',
  GIT_AUTHOR_EMAIL: 'b@e',
  GIT_COMMITTER_NAME: 'b',
  GIT_COMMITTER_EMAIL: 'b@e',
};

const sh = (args, cwd) => {
  const r = spawnSync('git', args, { cwd, env, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`git ${args.join(' ')}: ${r.stderr}`);
  return r.stdout.trim();
};
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

// One repository per project; GetArchive serves `git archive` of it.
const repoOf = (id) => path.join(root, `${id}.repo`);
function newRepo(id) {
  fs.cpSync(APP, repoOf(id), { recursive: true });
  sh(['init', '-q', '-b', 'main'], repoOf(id));
}
function commit(id, n) {
  fs.writeFileSync(path.join(repoOf(id), 'VERSION'), `${n}\n`);
  sh(['add', '-A'], repoOf(id));
  sh(['commit', '-q', '-m', `v${n}`], repoOf(id));
  return sh(['rev-parse', 'HEAD'], repoOf(id));
}
const gitAddress = `unix:${path.join(root, 'git.sock')}`;
const gitServer = await serveGrpc({
  address: gitAddress,
  secret: SECRET,
  services: ['paastech.git.v1.GitService'],
  register: (server) =>
    server.addService(git.GitServiceService, {
      getArchive(call) {
        const child = spawn('git', [
          '-C',
          repoOf(call.request.projectId),
          'archive',
          '--format=tar',
          call.request.commitSha,
        ]);
        child.stdout.on('data', (b) => call.write({ data: b }));
        child.on('close', (code) =>
          code === 0 ? call.end() : call.destroy(new Error(`git archive ${code}`)),
        );
      },
    }),
});

/** Starts a Pomegrenade with `extra` environment; returns deploy() and live(). */
async function pomegrenade(name, extra) {
  const dataDir = path.join(root, name);
  const config = readPomegrenadeConfig({
    PAASTECH_DATA_DIR: dataDir,
    PAASTECH_INTERNAL_SECRET: SECRET,
    PAASTECH_LOG_LEVEL: 'silent',
    PAASTECH_GIT_GRPC_ADDRESS: gitAddress,
    PAASTECH_DRAIN_SECONDS: '1',
    ...extra,
  });
  const handle = startPomegrenade(config, createLogger('pomegrenade', { level: 'silent', format: 'json' }));
  await handle.ready;
  const client = new deploy.DeploymentServiceClient(config.grpcAddress, grpc.credentials.createInsecure());
  const routes = new Map();
  const watch = new routing.RoutingServiceClient(
    config.grpcAddress,
    grpc.credentials.createInsecure(),
  ).watchRoutes({ routerId: 'bench' }, internalMetadata(SECRET));
  watch.on('data', (m) => {
    const list =
      m.update?.$case === 'snapshot' ? m.update.value.routes : (m.update?.value.upsertedRoutes ?? []);
    for (const r of list) routes.set(r.projectId, r);
  });
  watch.on('error', () => {});
  const create = (req) =>
    new Promise((resolve, reject) =>
      client.createDeployment(
        {
          projectName: req.projectId,
          configVars: {},
          formation: {},
          domains: [],
          httpsRedirect: false,
          createdByClientId: 'bench',
          ...req,
        },
        internalMetadata(SECRET),
        (err, res) => (err ? reject(err) : resolve(res)),
      ),
    );
  const live = async (projectId, n, want) => {
    const deadline = Date.now() + 300_000;
    while (Date.now() < deadline) {
      const r = routes.get(projectId);
      if (r?.deploymentNumber === n && r.upstreamAddresses.length > 0) {
        try {
          const res = await fetch(`http://${r.upstreamAddresses[0]}/`, { signal: AbortSignal.timeout(1000) });
          if ((await res.text()).startsWith(want)) return;
        } catch {
          // not yet
        }
      }
      await new Promise((res) => setTimeout(res, 5));
    }
    throw new Error(`${name}: ${projectId} v${n} never became live`);
  };
  const stop = async () => {
    watch.cancel();
    client.close();
    await handle.stop();
  };
  return { create, live, stop };
}

/** N pushes (a new commit, built and rolled out) and N config changes of one project, timed. */
async function measure(p, id) {
  newRepo(id);
  const push = [];
  const redeploy = [];
  let n = 0;
  // A first deployment outside the timing: the base image, caches and the service exist afterwards.
  const warm = commit(id, 0);
  await p.create({
    projectId: id,
    deploymentNumber: ++n,
    commitSha: warm,
    source: { kind: { $case: 'git', value: { refName: 'main' } } },
  });
  await p.live(id, n, 'hello from v1');
  for (let i = 1; i <= RUNS; i++) {
    const sha = commit(id, i);
    const t0 = performance.now();
    await p.create({
      projectId: id,
      deploymentNumber: ++n,
      commitSha: sha,
      source: { kind: { $case: 'git', value: { refName: 'main' } } },
    });
    await p.live(id, n, `hello from v${n}`);
    push.push(performance.now() - t0);
    const built = n;
    const t1 = performance.now();
    await p.create({
      projectId: id,
      deploymentNumber: ++n,
      commitSha: sha,
      source: { kind: { $case: 'buildOfDeploymentNumber', value: built } },
      configVars: { GREETING: `hi${i}` },
    });
    await p.live(id, n, `hi${i} from v${n}`);
    redeploy.push(performance.now() - t1);
  }
  return { push, redeploy };
}

const swarm = await startSwarm();
const results = {};
try {
  const local = await pomegrenade('local', {});
  const onSwarm = await pomegrenade('swarm', {
    PAASTECH_RUNTIME: 'swarm',
    PAASTECH_DOCKER_SOCKET: swarm.manager.socketPath,
    PAASTECH_REGISTRY: swarm.registry,
    PAASTECH_SWARM_BASE_CACHE: SWARM_BASE_CACHE,
  });
  // Interleaved rounds would share the 2 cores unevenly; one after the other, same app, same run.
  results.local = await measure(local, 'bl');
  results.swarm = await measure(onSwarm, 'bs');
  await local.stop();
  await onSwarm.stop();
} finally {
  await swarm.stop();
  await gitServer.stop();
  fs.rmSync(root, { recursive: true, force: true });
}
const fmt = (xs) => `${Math.round(median(xs))} ms (runs: ${xs.map((x) => Math.round(x)).join(', ')})`;
console.log(
  `push-to-live, median of ${RUNS}, load average ${os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}`,
);
for (const [name, r] of Object.entries(results)) {
  console.log(`${name.padEnd(6)} push → live: ${fmt(r.push)}`);
  console.log(`${name.padEnd(6)} config change → live: ${fmt(r.redeploy)}`);
}
console.log(
  `swarm / local: push ${(median(results.swarm.push) / median(results.local.push)).toFixed(1)}×, config change ${(median(results.swarm.redeploy) / median(results.local.redeploy)).toFixed(1)}×`,
);
process.exit(0);
