// gRPC contracts of every PaaSTech service: the generated messages, service
// definitions (for grpc-js servers) and clients, one namespace per proto package.
export * as health from './gen/grpc/health/v1/health.js';
export * as control from './gen/paastech/control/v1/control.js';
export * as deploy from './gen/paastech/deploy/v1/deploy.js';
export * as git from './gen/paastech/git/v1/git.js';
export * as routing from './gen/paastech/routing/v1/routing.js';

/** Fully-qualified gRPC service names, as used by the health service and in logs. */
export const SERVICE_NAMES = {
  control: 'paastech.control.v1.ControlService',
  git: 'paastech.git.v1.GitService',
  deploy: 'paastech.deploy.v1.DeploymentService',
  routing: 'paastech.routing.v1.RoutingService',
} as const;

/**
 * Default Unix socket file names of the gRPC servers, inside the platform's
 * socket directory: the Central API serves ControlService, the git controller
 * GitService, Pomegrenade DeploymentService and RoutingService. Every server
 * also serves grpc.health.v1.Health.
 */
export const SOCKET_FILE_NAMES = {
  api: 'api.sock',
  git: 'git.sock',
  pomegrenade: 'pomegrenade.sock',
} as const;

/** A role that serves gRPC: a key of SOCKET_FILE_NAMES. */
export type GrpcServerRole = keyof typeof SOCKET_FILE_NAMES;
