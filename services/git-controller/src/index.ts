// Git controller: owns the hosted repositories on disk and serves them over smart HTTP and SSH,
// asking the API (paastech.control.v1) who may read or write each project, and serves
// paastech.git.v1.GitService to the other services.
import fs from 'node:fs';
import http from 'node:http';
import type net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type * as grpc from '@grpc/grpc-js';
import {
  closeHttp,
  createLogger,
  type GrpcEndpoint,
  type Logger,
  listenHttp,
  resolveInternalSecret,
  type ServiceHandle,
  serveGrpc,
  urlHost,
} from '@paastech/kit';
import { git as gitv1, SERVICE_NAMES } from '@paastech/proto';
import type { GitControllerConfig } from './config.js';
import { ControlClient } from './control.js';
import { handlePreReceive } from './deploy-on-push.js';
import type { GitRuntime } from './git.js';
import { gitServiceImpl } from './grpc-service.js';
import { serveHookSocket, writeHooks } from './hooks.js';
import { loadOrCreateHostKey } from './host-key.js';
import { Pushes } from './pushes.js';
import { FailureLimiter } from './rate-limit.js';
import { Repositories } from './repositories.js';
import { gitHttpHandler } from './smart-http.js';
import { createSshServer, type SshServer } from './ssh.js';

export { type GitControllerConfig, readGitControllerConfig } from './config.js';

/** Where the controller keeps its state under the data dir. */
export function gitPaths(dataDir: string) {
  return {
    repositories: path.join(dataDir, 'repositories'),
    hooks: path.join(dataDir, 'git', 'hooks'),
    home: path.join(dataDir, 'git', 'home'),
    hookSocket: path.join(dataDir, 'run', 'git-hooks.sock'),
    hostKey: path.join(dataDir, 'keys', 'ssh_host_ed25519_key'),
  };
}

/** A host name for URLs: the listen host, or this machine's name when listening on every address. */
function publicHost(listenHost: string): string {
  return listenHost === '0.0.0.0' || listenHost === '::' ? os.hostname() : urlHost(listenHost);
}

/** Starts the git controller: hooks socket, gRPC, smart HTTP and SSH. */
export function startGitController(
  config: GitControllerConfig,
  logger: Logger = createLogger('git', config.log),
): ServiceHandle {
  const paths = gitPaths(config.dataDir);
  const runtime: GitRuntime = { path: config.systemPath, home: paths.home };
  const repos = new Repositories(paths.repositories, paths.hooks, runtime);
  const pushes = new Pushes();
  const secret = resolveInternalSecret(config);
  const control = new ControlClient(config.apiGrpcAddress, secret);
  const limiter = new FailureLimiter();
  const transport = {
    repos,
    pushes,
    runtime,
    control,
    limiter,
    maxPushBytes: config.maxPushBytes,
    idleTimeoutMs: config.idleTimeoutMs,
    logger,
  };
  const web = http.createServer(gitHttpHandler(transport));
  web.requestTimeout = 0;
  web.headersTimeout = Math.min(60_000, config.idleTimeoutMs + 1000);
  let grpcEndpoint: GrpcEndpoint | undefined;
  let hookServer: net.Server | undefined;
  let sshServer: SshServer | undefined;
  let httpPort = config.httpPort;
  let sshPort = config.sshPort;
  const host = publicHost(config.listenHost);
  const endpoints = () => ({
    httpBaseUrl: config.publicHttpUrl ?? `http://${host}:${httpPort}`,
    sshBaseUrl: config.publicSshUrl ?? `ssh://git@${host}:${sshPort}`,
  });

  const ready = (async () => {
    for (const dir of [paths.repositories, paths.home])
      await fs.promises.mkdir(dir, { recursive: true, mode: 0o700 });
    await writeHooks(paths.hooks, paths.hookSocket);
    const repaired = await repos.repair();
    if (repaired.repinned || repaired.removed) logger.warn(repaired, 'repaired repositories at start-up');
    hookServer = await serveHookSocket(paths.hookSocket, (req, reply) =>
      handlePreReceive(
        { pushes, repos, control, runtime, lockTimeoutMs: config.pushLockTimeoutMs },
        req,
        reply,
      ),
    );
    grpcEndpoint = await serveGrpc({
      address: config.grpcAddress,
      secret,
      services: [SERVICE_NAMES.git],
      register: (server: grpc.Server) =>
        server.addService(gitv1.GitServiceService, gitServiceImpl(repos, endpoints)),
    });
    httpPort = await listenHttp(web, config.listenHost, config.httpPort);
    const hostKey = loadOrCreateHostKey(paths.hostKey);
    if (hostKey.origin !== 'read') {
      logger.info({ file: paths.hostKey, publicKey: hostKey.publicLine }, `SSH host key ${hostKey.origin}`);
    }
    if (hostKey.warning) logger.warn({ file: paths.hostKey }, hostKey.warning);
    sshServer = createSshServer(transport, hostKey.privateKey);
    sshPort = await sshServer.listen(config.listenHost, config.sshPort);
    logger.info({ httpPort, sshPort, grpc: config.grpcAddress }, 'git controller listening');
  })();
  return {
    name: 'git',
    ready,
    endpoints: () => [
      { label: 'git over HTTP', url: `${endpoints().httpBaseUrl}/<project>.git` },
      { label: 'git over SSH', url: `${endpoints().sshBaseUrl}/<project>.git` },
      { label: 'git gRPC', url: config.grpcAddress },
    ],
    async stop() {
      await sshServer?.close();
      await closeHttp(web);
      await grpcEndpoint?.stop();
      if (hookServer) await closeNet(hookServer);
      await fs.promises.rm(paths.hookSocket, { force: true });
      control.close();
      logger.info('git controller stopped');
    },
  };
}

/** Closes a net server, giving open connections 5 s before it stops waiting for them. */
function closeNet(server: net.Server): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) return resolve();
    const timer = setTimeout(resolve, 5000);
    server.close(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}
