// Test harness: a real git controller (in-process, every port chosen by the OS) in a temp data dir,
// the contract ControlService beside it, a gRPC GitService client, and a real `git` CLI runner.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import {
  type GitControllerConfig,
  readGitControllerConfig,
  startGitController,
} from '@paastech/git-controller';
import { internalMetadata, type ServiceHandle } from '@paastech/kit';
import { git as gitv1 } from '@paastech/proto';
import { type FakeClient, type FakeControl, startFakeControl } from './control-server.js';

export const SECRET = 'test-internal-secret-0123456789';

/** Alice owns "shop" and "blog"; Bob owns "other". */
export const ALICE: FakeClient = {
  id: 'client-alice',
  tokens: ['alice-token'],
  readOnlyTokens: ['alice-readonly'],
  fingerprints: [],
  projects: { shop: 'p-shop', blog: 'p-blog' },
};
export const BOB: FakeClient = {
  id: 'client-bob',
  tokens: ['bob-token'],
  fingerprints: [],
  projects: { other: 'p-other' },
};

export interface Harness {
  dataDir: string;
  config: GitControllerConfig;
  controller: ServiceHandle;
  control: FakeControl;
  gitClient: gitv1.GitServiceClient;
  httpBase: string;
  sshPort: number;
  stop(): Promise<void>;
}

/** Makes a short temp dir (Unix socket paths must stay under 108 bytes). */
export function tempDir(prefix = 'gc-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** Starts the contract API and the controller; creates the repositories of every fake project. */
export async function startHarness(
  env: Record<string, string> = {},
  clients = [ALICE, BOB],
): Promise<Harness> {
  const dataDir = tempDir();
  const apiAddress = `unix:${path.join(dataDir, 'run', 'api.sock')}`;
  const control = await startFakeControl(apiAddress, SECRET, structuredClone(clients));
  const config = readGitControllerConfig({
    PATH: process.env.PATH,
    PAASTECH_DATA_DIR: dataDir,
    PAASTECH_GIT_HTTP_PORT: '0',
    PAASTECH_GIT_SSH_PORT: '0',
    PAASTECH_INTERNAL_SECRET: SECRET,
    PAASTECH_API_GRPC_ADDRESS: apiAddress,
    PAASTECH_LOG_LEVEL: 'silent',
    ...env,
  });
  const controller = startGitController(config);
  await controller.ready;
  const gitClient = new gitv1.GitServiceClient(config.grpcAddress, grpc.credentials.createInsecure());
  const endpoints = await call<gitv1.GetGitEndpointsResponse>((cb) =>
    gitClient.getGitEndpoints({}, md(), cb),
  );
  for (const c of clients) {
    for (const id of Object.values(c.projects)) {
      await call((cb) => gitClient.createRepository({ projectId: id, defaultBranch: '' }, md(), cb));
    }
  }
  return {
    dataDir,
    config,
    controller,
    control,
    gitClient,
    httpBase: endpoints.httpBaseUrl,
    sshPort: Number(new URL(endpoints.sshBaseUrl).port),
    async stop() {
      gitClient.close();
      await controller.stop();
      await control.stop();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Metadata with the internal secret. */
export function md(): grpc.Metadata {
  return internalMetadata(SECRET);
}

/** Promisifies one unary gRPC call. */
export function call<T>(fn: (cb: (err: grpc.ServiceError | null, res: T) => void) => unknown): Promise<T> {
  return new Promise((resolve, reject) => {
    fn((err, res) => (err ? reject(err) : resolve(res)));
  });
}

export interface GitResult {
  code: number | null;
  stdout: string;
  stderr: string;
  /** stderr lines with the time (ms since start) each arrived. */
  timedLines: Array<{ at: number; line: string }>;
}

/** An isolated git CLI: its own HOME, no system config, no prompts; `auth` adds an Authorization header. */
export function gitCli(
  home: string,
  auth?: { user?: string; token: string },
  extra: Record<string, string> = {},
) {
  fs.mkdirSync(home, { recursive: true });
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: home,
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_TERMINAL_PROMPT: '0',
    GIT_AUTHOR_NAME: 'Test',
    GIT_AUTHOR_EMAIL: 'test@example.com',
    GIT_COMMITTER_NAME: 'Test',
    GIT_COMMITTER_EMAIL: 'test@example.com',
    LANG: 'C',
    ...extra,
  };
  if (auth) {
    const basic = Buffer.from(`${auth.user ?? 'git'}:${auth.token}`).toString('base64');
    // Given through the environment, so the token is neither on a command line nor in a repo config.
    env.GIT_CONFIG_COUNT = '1';
    env.GIT_CONFIG_KEY_0 = 'http.extraHeader';
    env.GIT_CONFIG_VALUE_0 = `Authorization: Basic ${basic}`;
  }
  return (args: string[], cwd: string, input?: string): Promise<GitResult> =>
    new Promise((resolve) => {
      const start = Date.now();
      const child = spawn('git', args, { cwd, env, stdio: ['pipe', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      let partial = '';
      const timedLines: GitResult['timedLines'] = [];
      child.stdout.on('data', (b: Buffer) => {
        stdout += b.toString();
      });
      child.stderr.on('data', (b: Buffer) => {
        const text = b.toString();
        stderr += text;
        partial += text;
        const parts = partial.split(/\r|\n/);
        partial = parts.pop() ?? '';
        for (const line of parts) if (line !== '') timedLines.push({ at: Date.now() - start, line });
      });
      child.stdin.on('error', () => {});
      child.stdin.end(input ?? '');
      child.on('close', (code) => resolve({ code, stdout, stderr, timedLines }));
    });
}

/** Creates a work tree with one commit (files given as name → content) on branch main. */
export async function makeWorkTree(dir: string, files: Record<string, string>, home: string): Promise<void> {
  const g = gitCli(home);
  fs.mkdirSync(dir, { recursive: true });
  await must(g(['init', '-q', '-b', 'main', '.'], dir));
  for (const [name, content] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    fs.writeFileSync(path.join(dir, name), content);
  }
  await must(g(['add', '-A'], dir));
  await must(g(['commit', '-q', '-m', 'first commit'], dir));
}

/** Throws unless the git command succeeded. */
export async function must(p: Promise<GitResult>): Promise<GitResult> {
  const r = await p;
  if (r.code !== 0) throw new Error(`git failed (${r.code}): ${r.stderr}`);
  return r;
}

/** Path of a project's bare repository in the harness. */
export function repoPath(h: Harness, projectId: string): string {
  return path.join(h.dataDir, 'repositories', `${projectId}.git`);
}
