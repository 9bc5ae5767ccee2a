// gRPC plumbing shared by the services: listening on Unix sockets or TCP, the internal-secret check,
// and the one mapper between domain errors and gRPC status codes (in both directions).
import { timingSafeEqual as cryptoEqual } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import {
  ConflictError,
  DomainError,
  InvalidArgumentError,
  LimitExceededError,
  NotFoundError,
  PermissionDeniedError,
  RateLimitedError,
  UnauthenticatedError,
  UnavailableError,
} from './errors.js';
import { addHealthService, HealthState } from './health.js';

/** Metadata key carrying the secret that paastechd shares between services. */
export const INTERNAL_SECRET_METADATA = 'x-paastech-internal-secret';

/** Binds `server` to `address` (`unix:/path` or `host:port`); removes a stale socket file first. */
export async function listenGrpc(server: grpc.Server, address: string): Promise<void> {
  if (address.startsWith('unix:')) {
    const file = address.slice('unix:'.length);
    await fs.promises.mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
    await fs.promises.rm(file, { force: true });
  }
  await new Promise<number>((resolve, reject) => {
    server.bindAsync(address, grpc.ServerCredentials.createInsecure(), (err, port) =>
      err ? reject(err) : resolve(port),
    );
  });
  if (address.startsWith('unix:')) await fs.promises.chmod(address.slice('unix:'.length), 0o600);
}

/** Stops a gRPC server: graceful for `graceMs`, then forced. Removes its socket file. */
export async function stopGrpc(server: grpc.Server, address: string, graceMs = 5000): Promise<void> {
  await new Promise<void>((resolve) => {
    const timer = setTimeout(() => {
      server.forceShutdown();
      resolve();
    }, graceMs);
    server.tryShutdown(() => {
      clearTimeout(timer);
      resolve();
    });
  });
  if (address.startsWith('unix:')) await fs.promises.rm(address.slice('unix:'.length), { force: true });
}

const TO_STATUS: Array<[new (...args: never[]) => DomainError, grpc.status]> = [
  [NotFoundError, grpc.status.NOT_FOUND],
  [ConflictError, grpc.status.ALREADY_EXISTS],
  [InvalidArgumentError, grpc.status.INVALID_ARGUMENT],
  [UnauthenticatedError, grpc.status.UNAUTHENTICATED],
  [PermissionDeniedError, grpc.status.PERMISSION_DENIED],
  [RateLimitedError, grpc.status.RESOURCE_EXHAUSTED],
  [LimitExceededError, grpc.status.RESOURCE_EXHAUSTED],
  [UnavailableError, grpc.status.UNAVAILABLE],
];

/** Turns any thrown value into a gRPC ServiceError; unknown errors become INTERNAL without detail. */
export function toGrpcError(err: unknown): Partial<grpc.ServiceError> {
  if (err instanceof DomainError) {
    const found = TO_STATUS.find(([cls]) => err instanceof cls);
    return { code: found ? found[1] : grpc.status.FAILED_PRECONDITION, details: err.message };
  }
  return { code: grpc.status.INTERNAL, details: 'internal error' };
}

/** Turns a gRPC error received from a peer back into the matching domain error. */
export function fromGrpcError(err: unknown, what = 'service'): Error {
  const e = err as Partial<grpc.ServiceError>;
  const msg = e.details || e.message || 'unknown error';
  switch (e.code) {
    case grpc.status.NOT_FOUND:
      return new NotFoundError(msg, { cause: err });
    case grpc.status.ALREADY_EXISTS:
      return new ConflictError(msg, { cause: err });
    case grpc.status.INVALID_ARGUMENT:
      return new InvalidArgumentError(msg, [], { cause: err });
    case grpc.status.UNAUTHENTICATED:
      return new UnauthenticatedError(msg, { cause: err });
    case grpc.status.PERMISSION_DENIED:
      return new PermissionDeniedError(msg, { cause: err });
    case grpc.status.RESOURCE_EXHAUSTED:
      return new LimitExceededError(msg, { cause: err });
    case grpc.status.UNAVAILABLE:
    case grpc.status.DEADLINE_EXCEEDED:
      return new UnavailableError(`${what} unavailable: ${msg}`, { cause: err });
    default:
      return new Error(`${what} failed: ${msg}`, { cause: err });
  }
}

/** Metadata carrying the internal secret, for clients of internal services. */
export function internalMetadata(secret: string): grpc.Metadata {
  const md = new grpc.Metadata();
  md.set(INTERNAL_SECRET_METADATA, secret);
  return md;
}

/** Server interceptor refusing calls that lack the internal secret (constant-time comparison). */
export function requireInternalSecret(secret: string): grpc.ServerInterceptor {
  const expected = Buffer.from(secret);
  return (methodDescriptor, call) =>
    new grpc.ServerInterceptingCall(call, {
      start: (next) => {
        next({
          onReceiveMetadata: (metadata, mdNext) => {
            const got = Buffer.from(String(metadata.get(INTERNAL_SECRET_METADATA)[0] ?? ''));
            const ok = got.length === expected.length && cryptoEqual(got, expected);
            // The health service stays open so supervisors can probe without the secret.
            if (ok || methodDescriptor.path.startsWith('/grpc.health.v1.Health/')) {
              mdNext(metadata);
            } else {
              call.sendStatus({
                code: grpc.status.UNAUTHENTICATED,
                details: 'missing or wrong internal secret',
              });
            }
          },
        });
      },
    });
}

/** A running gRPC server of a service, with its health state. */
export interface GrpcEndpoint {
  server: grpc.Server;
  health: HealthState;
  stop(): Promise<void>;
}

/**
 * Creates a gRPC server that requires the internal secret, serves grpc.health.v1, lets `register`
 * add the service's own handlers, and binds it to `address`. Health turns SERVING once bound.
 */
export async function serveGrpc(options: {
  address: string;
  secret: string;
  /** Names reported by the health service once serving (e.g. 'paastech.git.v1.GitService'). */
  services: string[];
  register?: (server: grpc.Server) => void;
}): Promise<GrpcEndpoint> {
  const server = new grpc.Server({ interceptors: [requireInternalSecret(options.secret)] });
  const health = new HealthState();
  addHealthService(server, health);
  options.register?.(server);
  await listenGrpc(server, options.address);
  for (const name of ['', ...options.services]) health.set(name, true);
  return {
    server,
    health,
    async stop() {
      for (const name of ['', ...options.services]) health.set(name, false);
      await stopGrpc(server, options.address);
    },
  };
}
