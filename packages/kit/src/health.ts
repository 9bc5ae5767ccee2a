// The standard gRPC health service (grpc.health.v1), served by every service's gRPC server.
import * as grpc from '@grpc/grpc-js';
import { health } from '@paastech/proto';

const { HealthCheckResponse_ServingStatus: Status } = health;

/** Serving state per service name ('' = the whole server); `set` notifies watchers. */
export class HealthState {
  private readonly statuses = new Map<string, health.HealthCheckResponse_ServingStatus>();
  private readonly watchers = new Set<(service: string) => void>();

  set(service: string, serving: boolean): void {
    this.statuses.set(service, serving ? Status.SERVING : Status.NOT_SERVING);
    for (const w of this.watchers) w(service);
  }

  get(service: string): health.HealthCheckResponse_ServingStatus | undefined {
    return this.statuses.get(service);
  }

  /** Registers a watcher; returns its removal function. */
  onChange(fn: (service: string) => void): () => void {
    this.watchers.add(fn);
    return () => this.watchers.delete(fn);
  }
}

/** Adds grpc.health.v1.Health to `server`, answering from `state`. */
export function addHealthService(server: grpc.Server, state: HealthState): void {
  const impl: health.HealthServer = {
    check(call, callback) {
      const status = state.get(call.request.service);
      if (status === undefined) {
        callback({ code: grpc.status.NOT_FOUND, details: `unknown service "${call.request.service}"` });
        return;
      }
      callback(null, { status });
    },
    watch(call) {
      const name = call.request.service;
      const send = () => call.write({ status: state.get(name) ?? Status.SERVICE_UNKNOWN });
      send();
      const off = state.onChange((changed) => {
        if (changed === name) send();
      });
      call.on('cancelled', off);
      call.on('close', off);
    },
  };
  server.addService(health.HealthService, impl);
}
