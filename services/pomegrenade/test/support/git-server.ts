// A small GitService contract server for tests: GetArchive streams `git archive` of a commit of a
// real repository stored as <reposDir>/<projectId>.git — the same contract the git controller serves.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { run, serveGrpc } from '@paastech/kit';
import { git } from '@paastech/proto';

export interface TestGitServer {
  address: string;
  archives: number;
  stop(): Promise<void>;
}

/** Serves GetArchive for repositories under `reposDir` on `address`. */
export async function startGitServer(
  address: string,
  secret: string,
  reposDir: string,
): Promise<TestGitServer> {
  const state = { archives: 0 };
  const impl: Partial<git.GitServiceServer> = {
    getArchive(call: grpc.ServerWritableStream<git.GetArchiveRequest, git.GetArchiveResponse>) {
      const { projectId, commitSha } = call.request;
      const repo = path.join(reposDir, `${projectId}.git`);
      if (!/^[0-9a-f]{40}$/.test(commitSha) || !fs.existsSync(repo)) {
        call.destroy({
          code: grpc.status.NOT_FOUND,
          details: `commit ${commitSha} not found`,
        } as grpc.ServiceError);
        return;
      }
      state.archives++;
      const child = spawn('git', ['-C', repo, 'archive', '--format=tar', '--end-of-options', commitSha], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      child.stdout.on('data', (b: Buffer) => {
        for (let i = 0; i < b.length; i += 65536) call.write({ data: b.subarray(i, i + 65536) });
      });
      child.on('close', (code) => {
        if (code === 0) call.end();
        else
          call.destroy({
            code: grpc.status.NOT_FOUND,
            details: `git archive exited with ${code}`,
          } as grpc.ServiceError);
      });
    },
  };
  const endpoint = await serveGrpc({
    address,
    secret,
    services: ['paastech.git.v1.GitService'],
    register: (server) => server.addService(git.GitServiceService, impl as git.GitServiceServer),
  });
  return {
    address,
    get archives() {
      return state.archives;
    },
    stop: () => endpoint.stop(),
  };
}

const GIT_ENV = {
  ...process.env,
  GIT_AUTHOR_NAME: 'Test',
  GIT_AUTHOR_EMAIL: 'test@example.com',
  GIT_COMMITTER_NAME: 'Test',
  GIT_COMMITTER_EMAIL: 'test@example.com',
};

/** A work tree + bare repository for one project, seeded from a fixture app. */
export class TestRepo {
  readonly work: string;
  readonly bare: string;
  constructor(
    reposDir: string,
    readonly projectId: string,
  ) {
    this.work = path.join(reposDir, `${projectId}.work`);
    this.bare = path.join(reposDir, `${projectId}.git`);
  }

  /** Replaces the work tree with a fixture's files, commits, pushes; returns the commit id. */
  async commitFixture(fixtureDir: string, edits: Record<string, string> = {}): Promise<string> {
    if (!fs.existsSync(this.bare)) {
      await run('git', ['init', '-q', '--bare', this.bare]);
      await run('git', ['init', '-q', '-b', 'main', this.work]);
    }
    for (const f of fs.readdirSync(this.work))
      if (f !== '.git') fs.rmSync(path.join(this.work, f), { recursive: true });
    fs.cpSync(fixtureDir, this.work, { recursive: true });
    for (const [file, text] of Object.entries(edits)) fs.writeFileSync(path.join(this.work, file), text);
    return this.commit();
  }

  /** Commits the work tree as it is (allowing an empty commit) and pushes it. */
  async commit(message = 'deploy'): Promise<string> {
    await run('git', ['-C', this.work, 'add', '-A'], { env: GIT_ENV });
    await run('git', ['-C', this.work, 'commit', '-q', '--allow-empty', '-m', message], { env: GIT_ENV });
    await run('git', ['-C', this.work, 'push', '-q', this.bare, 'main'], { env: GIT_ENV });
    return (await run('git', ['-C', this.work, 'rev-parse', 'HEAD'])).stdout.trim();
  }
}

/** Absolute path of a fixture app. */
export function fixture(name: string): string {
  return path.resolve(import.meta.dirname, '../../../../e2e/fixtures/apps', name);
}
