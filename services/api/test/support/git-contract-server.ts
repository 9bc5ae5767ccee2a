// A small, real implementation of paastech.git.v1.GitService's repository RPCs for the API's tests
// (the API's tests may not import the git controller): `git init --bare` into a temp dir, behind
// kit's serveGrpc with the internal secret, on a Unix socket. `failCreate` makes CreateRepository
// fail after nothing was created, to test that the API leaves nothing half-created.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import { type GrpcEndpoint, serveGrpc } from '@paastech/kit';
import { git, SERVICE_NAMES } from '@paastech/proto';

const run = promisify(execFile);

export interface GitContractServer {
  address: string;
  secret: string;
  /** Where the bare repositories are created, one per project id. */
  reposDir: string;
  /** When set, CreateRepository answers with this status (nothing is created). */
  failCreate: grpc.status | undefined;
  /** When set, DeleteRepository answers with this status (nothing is deleted). */
  failDelete: grpc.status | undefined;
  /** Every call received, as `method:projectId`. */
  calls: string[];
  repoExists(projectId: string): boolean;
  stop(): Promise<void>;
}

export const HTTP_BASE = 'http://git.test:3001';
export const SSH_BASE = 'ssh://git@git.test:2222';

/** Answers a unary call from an async function, turning a thrown status into the call's error. */
function unary<Req, Res>(fn: (req: Req) => Promise<Res>): grpc.handleUnaryCall<Req, Res> {
  return (call, callback) => {
    fn(call.request).then(
      (res) => callback(null, res),
      (err: Partial<grpc.ServiceError>) => callback(err),
    );
  };
}

/** Starts the contract server (by default on a fresh Unix socket, with its own secret). */
export async function startGitContractServer(
  options: { address?: string; secret?: string } = {},
): Promise<GitContractServer> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'paastech-git-contract-'));
  const reposDir = path.join(root, 'repos');
  fs.mkdirSync(reposDir);
  const address = options.address ?? `unix:${path.join(root, 'git.sock')}`;
  const secret = options.secret ?? 'contract-server-secret-0123456789';
  const repo = (id: string) => path.join(reposDir, `${id}.git`);
  const state: GitContractServer = {
    address,
    secret,
    reposDir,
    failCreate: undefined,
    failDelete: undefined,
    calls: [],
    repoExists: (id) => fs.existsSync(repo(id)),
    stop: async () => {
      await endpoint.stop();
      fs.rmSync(root, { recursive: true, force: true });
    },
  };
  const impl: git.GitServiceServer = {
    createRepository: unary(async (req: git.CreateRepositoryRequest) => {
      state.calls.push(`create:${req.projectId}`);
      if (state.failCreate !== undefined) throw { code: state.failCreate, details: 'disk full' };
      if (!/^[0-9a-f-]{36}$/.test(req.projectId))
        throw { code: grpc.status.INVALID_ARGUMENT, details: 'bad id' };
      if (fs.existsSync(repo(req.projectId))) throw { code: grpc.status.ALREADY_EXISTS, details: 'exists' };
      await run('git', ['init', '--quiet', '--bare', '--initial-branch=main', '--', repo(req.projectId)]);
      return {};
    }),
    deleteRepository: unary(async (req: git.DeleteRepositoryRequest) => {
      state.calls.push(`delete:${req.projectId}`);
      if (state.failDelete !== undefined) throw { code: state.failDelete, details: 'busy' };
      const existed = fs.existsSync(repo(req.projectId));
      fs.rmSync(repo(req.projectId), { recursive: true, force: true });
      return { existed, freedBytes: 0 };
    }),
    getGitEndpoints: unary(async () => {
      state.calls.push('endpoints');
      return { httpBaseUrl: HTTP_BASE, sshBaseUrl: SSH_BASE };
    }),
    listRefs: unary(async () => {
      throw { code: grpc.status.UNIMPLEMENTED, details: 'not in the contract server' };
    }),
    getRepositoryInfo: unary(async () => {
      throw { code: grpc.status.UNIMPLEMENTED, details: 'not in the contract server' };
    }),
    getArchive: (call) =>
      call.destroy({ code: grpc.status.UNIMPLEMENTED, details: 'n/a' } as grpc.ServiceError),
  };
  const endpoint: GrpcEndpoint = await serveGrpc({
    address,
    secret,
    services: [SERVICE_NAMES.git],
    register: (server) => server.addService(git.GitServiceService, impl),
  });
  return state;
}
