// A small paastech.routing.v1 RoutingService server for the router's tests: it speaks the real
// contract over a real Unix socket (with the internal-secret check), and lets a test publish route
// snapshots and changes, break every open stream, or go away and come back.
import * as grpc from '@grpc/grpc-js';
import { type GrpcEndpoint, serveGrpc } from '@paastech/kit';
import { routing, SERVICE_NAMES } from '@paastech/proto';

/** A route with defaults for every field a test does not care about. */
export function route(fields: Partial<routing.Route> & { projectId: string }): routing.Route {
  return {
    projectName: fields.projectId,
    hostnames: [],
    upstreamAddresses: [],
    unavailableReason: routing.RouteUnavailableReason.ROUTE_UNAVAILABLE_REASON_UNSPECIFIED,
    unavailableMessage: '',
    httpsRedirect: false,
    deploymentNumber: 1,
    ...fields,
  };
}

/** The contract server and the controls a test uses. */
export class RoutingContractServer {
  private endpoint: GrpcEndpoint | undefined;
  private readonly streams = new Set<
    grpc.ServerWritableStream<routing.WatchRoutesRequest, routing.WatchRoutesResponse>
  >();
  private routes = new Map<string, routing.Route>();
  readonly reports: routing.ReportRouterStatsRequest[] = [];
  /** Router ids of every WatchRoutes call received. */
  readonly watchers: string[] = [];

  constructor(
    readonly address: string,
    readonly secret: string,
  ) {}

  /** Starts serving (again). */
  async start(): Promise<void> {
    this.endpoint = await serveGrpc({
      address: this.address,
      secret: this.secret,
      services: [SERVICE_NAMES.routing],
      register: (server) =>
        server.addService(routing.RoutingServiceService, {
          watchRoutes: (call) => this.onWatch(call),
          reportRouterStats: (call, callback) => {
            this.reports.push(call.request);
            callback(null, {});
          },
        } satisfies routing.RoutingServiceServer),
    });
  }

  /** Number of open WatchRoutes streams. */
  get openStreams(): number {
    return this.streams.size;
  }

  /** Replaces every route and sends a snapshot to every open stream. */
  setRoutes(routes: routing.Route[]): void {
    this.routes = new Map(routes.map((r) => [r.projectId, r]));
    this.broadcast({ update: { $case: 'snapshot', value: { routes } } });
  }

  /** Upserts routes and sends them as a change. */
  upsert(...routes: routing.Route[]): void {
    for (const r of routes) this.routes.set(r.projectId, r);
    this.broadcast({ update: { $case: 'change', value: { upsertedRoutes: routes, removedProjectIds: [] } } });
  }

  /** Removes routes and sends the removal as a change. */
  remove(...projectIds: string[]): void {
    for (const id of projectIds) this.routes.delete(id);
    this.broadcast({
      update: { $case: 'change', value: { upsertedRoutes: [], removedProjectIds: projectIds } },
    });
  }

  /** Changes the routes without telling anyone (as if they changed while the stream was down). */
  setRoutesSilently(routes: routing.Route[]): void {
    this.routes = new Map(routes.map((r) => [r.projectId, r]));
  }

  /** Ends every open stream with UNAVAILABLE, as a restarting Pomegrenade would. */
  breakStreams(): void {
    // emit('error') ends the call with that status (destroy() alone sends the client nothing).
    for (const s of this.streams)
      s.emit('error', { code: grpc.status.UNAVAILABLE, details: 'contract server broke the stream' });
    this.streams.clear();
  }

  /** Stops serving at once, as a crashing Pomegrenade would (connections cut, no grace). */
  async stop(): Promise<void> {
    this.breakStreams();
    this.endpoint?.server.forceShutdown();
    await this.endpoint?.stop();
    this.endpoint = undefined;
  }

  private onWatch(
    call: grpc.ServerWritableStream<routing.WatchRoutesRequest, routing.WatchRoutesResponse>,
  ): void {
    this.watchers.push(call.request.routerId);
    this.streams.add(call);
    call.on('cancelled', () => this.streams.delete(call));
    call.on('close', () => this.streams.delete(call));
    call.write({ update: { $case: 'snapshot', value: { routes: [...this.routes.values()] } } });
  }

  private broadcast(message: routing.WatchRoutesResponse): void {
    for (const s of this.streams) s.write(message);
  }
}
