#!/usr/bin/env node
// Git transport benchmark (not a test): push and clone of a generated repository (2,000 files,
// 50 MB) over the git controller's smart HTTP and SSH, against `git push`/`git clone` over file://
// to a bare repository on the same disk (the floor). Prints medians and ratios to the floor; the
// target is ≤ 1.5×. Needs `npm run build` first (it runs the built controller).
//
//   node bench/git/run.mjs [--runs N] [--files N] [--mb N]
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import { readGitControllerConfig, startGitController } from '@paastech/git-controller';
import { internalMetadata, listenGrpc, requireInternalSecret, stopGrpc } from '@paastech/kit';
import { control, git as gitv1 } from '@paastech/proto';

const { values: opts } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    files: { type: 'string', default: '2000' },
    mb: { type: 'string', default: '50' },
    keep: { type: 'boolean', default: false },
  },
});
const RUNS = Number(opts.runs);
const FILES = Number(opts.files);
const BYTES = Number(opts.mb) * 1024 * 1024;
const SECRET = 'bench-internal-secret-0123456789';
const TOKEN = 'bench-token';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'pt-bench-git-'));
const home = path.join(root, 'home');
fs.mkdirSync(home);
const gitEnv = {
  PATH: process.env.PATH,
  HOME: home,
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_TERMINAL_PROMPT: '0',
  GIT_AUTHOR_NAME: 'Bench',
  GIT_AUTHOR_EMAIL: 'bench@example.com',
  GIT_COMMITTER_NAME: 'Bench',
  GIT_COMMITTER_EMAIL: 'bench@example.com',
};

/** Runs git (asynchronously: the controller serves from this same process) and returns stdout. */
function git(args, cwd, env = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn('git', args, { cwd, env: { ...gitEnv, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (b) => {
      out += b;
    });
    child.stderr.on('data', (b) => {
      err += b;
    });
    child.on('close', (code) =>
      code === 0 ? resolve(out) : reject(new Error(`git ${args.join(' ')} failed: ${err}`)),
    );
  });
}

/** Milliseconds `fn` takes. */
async function time(fn) {
  const start = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - start) / 1e6;
}

/** The median of the numbers. */
function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** Generates the source repository: FILES files of random (incompressible) content, BYTES in all. */
async function makeSource(dir) {
  fs.mkdirSync(dir);
  await git(['init', '-q', '-b', 'main', '.'], dir);
  const size = Math.floor(BYTES / FILES);
  for (let i = 0; i < FILES; i++) {
    const sub = path.join(dir, `dir${i % 40}`);
    fs.mkdirSync(sub, { recursive: true });
    fs.writeFileSync(path.join(sub, `file${i}.txt`), randomBytes(size / 2).toString('hex'));
  }
  await git(['add', '-A'], dir);
  await git(['commit', '-q', '-m', 'generated'], dir);
}

/** A ControlService that lets the bench token and every SSH key in, and never deploys. */
async function startControl(address) {
  const server = new grpc.Server({ interceptors: [requireInternalSecret(SECRET)] });
  server.addService(control.ControlServiceService, {
    authorizeGitAccess(call, cb) {
      const c = call.request.credential;
      const ok = (c?.$case === 'apiToken' && c.value === TOKEN) || c?.$case === 'sshKeyFingerprint';
      cb(null, {
        allowed: ok,
        clientId: 'bench',
        projectId: 'p-bench',
        denialReason: ok ? 0 : 1,
        denialMessage: '',
      });
    },
    recordPush(call) {
      call.write({
        event: { $case: 'result', value: { outcome: 3, reason: 'benchmark', deploymentNumber: 0, url: '' } },
      });
      call.end();
    },
  });
  await listenGrpc(server, address);
  return () => stopGrpc(server, address, 100);
}

/** Calls one unary GitService method. */
function unary(client, method, req) {
  return new Promise((resolve, reject) =>
    client[method](req, internalMetadata(SECRET), (err, res) => (err ? reject(err) : resolve(res))),
  );
}

const dataDir = path.join(root, 'data');
const apiAddress = `unix:${path.join(dataDir, 'run', 'api.sock')}`;
fs.mkdirSync(path.join(dataDir, 'run'), { recursive: true });
const stopControl = await startControl(apiAddress);
const controller = startGitController(
  readGitControllerConfig({
    PATH: process.env.PATH,
    PAASTECH_DATA_DIR: dataDir,
    PAASTECH_GIT_HTTP_PORT: '0',
    PAASTECH_GIT_SSH_PORT: '0',
    PAASTECH_INTERNAL_SECRET: SECRET,
    PAASTECH_API_GRPC_ADDRESS: apiAddress,
    PAASTECH_LOG_LEVEL: 'silent',
  }),
);
await controller.ready;
const gitClient = new gitv1.GitServiceClient(
  `unix:${path.join(dataDir, 'run', 'git.sock')}`,
  grpc.credentials.createInsecure(),
);
const endpoints = await unary(gitClient, 'getGitEndpoints', {});

const src = path.join(root, 'src');
process.stdout.write(`generating ${FILES} files, ${opts.mb} MB … `);
await makeSource(src);
console.log('done');
const key = path.join(root, 'id_ed25519');
execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', key]);
const sshEnv = {
  GIT_SSH_COMMAND: `ssh -F /dev/null -i ${key} -o IdentitiesOnly=yes -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR`,
};
const basic = Buffer.from(`bench:${TOKEN}`).toString('base64');
const httpEnv = {
  GIT_CONFIG_COUNT: '1',
  GIT_CONFIG_KEY_0: 'http.extraHeader',
  GIT_CONFIG_VALUE_0: `Authorization: Basic ${basic}`,
};

const floorRepo = path.join(root, 'floor.git');
const transports = {
  'file:// (floor)': {
    url: `file://${floorRepo}`,
    env: {},
    reset: async () => {
      fs.rmSync(floorRepo, { recursive: true, force: true });
      await git(['init', '-q', '--bare', '-b', 'main', floorRepo], root);
    },
  },
  'smart HTTP': {
    url: `${endpoints.httpBaseUrl}/bench.git`,
    env: httpEnv,
    reset: async () => {
      await unary(gitClient, 'deleteRepository', { projectId: 'p-bench' });
      await unary(gitClient, 'createRepository', { projectId: 'p-bench', defaultBranch: '' });
    },
  },
  SSH: {
    url: `${endpoints.sshBaseUrl}/bench.git`,
    env: sshEnv,
    reset: async () => {
      await unary(gitClient, 'deleteRepository', { projectId: 'p-bench' });
      await unary(gitClient, 'createRepository', { projectId: 'p-bench', defaultBranch: '' });
    },
  },
};

// One untimed round first, so the first transport measured does not pay for a cold page cache.
await transports['file:// (floor)'].reset();
await git(['push', '-q', transports['file:// (floor)'].url, 'main'], src);
await git(['clone', '-q', transports['file:// (floor)'].url, path.join(root, 'warm-up')], root);
fs.rmSync(path.join(root, 'warm-up'), { recursive: true, force: true });

const results = {};
for (const [name, t] of Object.entries(transports)) {
  const push = [];
  const clone = [];
  for (let i = 0; i < RUNS; i++) {
    await t.reset();
    push.push(await time(() => git(['push', '-q', t.url, 'main'], src, t.env)));
    const dest = path.join(root, `clone-${i}`);
    clone.push(await time(() => git(['clone', '-q', t.url, dest], root, t.env)));
    fs.rmSync(dest, { recursive: true, force: true });
  }
  results[name] = { push: median(push), clone: median(clone) };
}

const floor = results['file:// (floor)'];
const rows = Object.entries(results).map(([name, r]) => [
  name,
  `${(r.push / 1000).toFixed(2)} s`,
  `${(r.push / floor.push).toFixed(2)}×`,
  `${(r.clone / 1000).toFixed(2)} s`,
  `${(r.clone / floor.clone).toFixed(2)}×`,
]);
const header = ['transport', 'push (median)', 'push / floor', 'clone (median)', 'clone / floor'];
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
const line = (cells) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
console.log(
  `\n${FILES} files, ${opts.mb} MB, median of ${RUNS} runs, git ${(await git(['version'], root)).trim().replace('git version ', '')}, node ${process.version}, ${os.cpus().length} CPUs`,
);
console.log(line(header));
console.log(line(widths.map((w) => '-'.repeat(w))));
for (const r of rows) console.log(line(r));
const worst = Math.max(
  ...Object.values(results).map((r) => Math.max(r.push / floor.push, r.clone / floor.clone)),
);
console.log(`\nworst ratio ${worst.toFixed(2)}× (target ≤ 1.5×): ${worst <= 1.5 ? 'met' : 'NOT met'}`);

gitClient.close();
await controller.stop();
await stopControl();
if (opts.keep) console.log(`kept ${root}`);
else fs.rmSync(root, { recursive: true, force: true });
// Connections the clients left (keep-alive, SSH) must not keep the benchmark alive.
process.exit(0);
