// The API's client of Pomegrenade (paastech.deploy.v1.DeploymentService): every call carries the
// internal secret and a deadline, and every failure comes back as a domain error. Invariant: an
// unreachable Pomegrenade is always an UnavailableError saying so in words a person can act on,
// never a raw gRPC status.
import * as grpc from '@grpc/grpc-js';
import { ConflictError, fromGrpcError, internalMetadata, UnavailableError } from '@paastech/kit';
import { deploy } from '@paastech/proto';

/** Message of every error caused by Pomegrenade being down. */
export const UNREACHABLE = 'the deployment service is not reachable';

/** Deadline of one unary call: each one only queues or reads state, so a few seconds is plenty. */
const CALL_TIMEOUT_MS = 10_000;

/**
 * Reconnect quickly: calls fail at once while the channel waits to reconnect, so a Pomegrenade that
 * restarted must be noticed within a second or two, not after grpc-js's default backoff of minutes.
 */
const CHANNEL_OPTIONS = { 'grpc.initial_reconnect_backoff_ms': 100, 'grpc.max_reconnect_backoff_ms': 2000 };

/** What the deployments module needs from Pomegrenade (a port: tests serve the real contract). */
export interface Pomegrenade {
  createDeployment(req: deploy.CreateDeploymentRequest): Promise<deploy.Deployment>;
  getDeployment(projectId: string, number: number): Promise<deploy.Deployment>;
  watchDeployment(
    projectId: string,
    number: number,
    signal?: AbortSignal,
  ): AsyncIterable<deploy.WatchDeploymentResponse>;
  cancelDeployment(projectId: string, number: number): Promise<void>;
  scaleProject(projectId: string, formation: Record<string, number>): Promise<Record<string, number>>;
  restartProject(projectId: string, processType: string): Promise<void>;
  stopProject(projectId: string): Promise<void>;
  /** Domains, and project settings that apply at once (egress). */
  updateProjectRouting(req: deploy.UpdateProjectRoutingRequest): Promise<void>;
  deleteProject(projectId: string): Promise<void>;
  streamLogs(req: deploy.StreamLogsRequest, signal?: AbortSignal): AsyncIterable<deploy.LogLine>;
  getProjectStatus(projectId: string): Promise<deploy.GetProjectStatusResponse>;
  close(): void;
}

/** Turns a gRPC failure of Pomegrenade into the domain error a caller can explain. */
export function pomegrenadeError(err: unknown): Error {
  const e = err as Partial<grpc.ServiceError>;
  // CANCELLED here was not asked for (own cancellations are filtered out): the server went away.
  if (e.code === grpc.status.UNAVAILABLE || e.code === grpc.status.CANCELLED)
    return new UnavailableError(UNREACHABLE, { cause: err });
  if (e.code === grpc.status.DEADLINE_EXCEEDED)
    return new UnavailableError('the deployment service did not answer in time', { cause: err });
  // FAILED_PRECONDITION: e.g. the build to reuse is no longer retained, or the deployment ended.
  if (e.code === grpc.status.FAILED_PRECONDITION)
    return new ConflictError(e.details || 'conflict', { cause: err });
  return fromGrpcError(err, 'deployment service');
}

type Unary<Req, Res> = (
  req: Req,
  md: grpc.Metadata,
  opts: Partial<grpc.CallOptions>,
  cb: (err: grpc.ServiceError | null, res: Res) => void,
) => grpc.ClientUnaryCall;

/** Pomegrenade over gRPC. */
export class PomegrenadeClient implements Pomegrenade {
  private readonly client: deploy.DeploymentServiceClient;

  constructor(
    address: string,
    private readonly secret: string,
    private readonly timeoutMs = CALL_TIMEOUT_MS,
  ) {
    this.client = new deploy.DeploymentServiceClient(
      address,
      grpc.credentials.createInsecure(),
      CHANNEL_OPTIONS,
    );
  }

  /** Runs one unary call with the secret and a deadline. */
  private call<Req, Res>(method: Unary<Req, Res>, request: Req): Promise<Res> {
    return new Promise((resolve, reject) => {
      method.call(
        this.client,
        request,
        internalMetadata(this.secret),
        { deadline: Date.now() + this.timeoutMs },
        (err, res) => (err ? reject(pomegrenadeError(err)) : resolve(res)),
      );
    });
  }

  /** Adapts a server stream to an async iterable that maps errors and cancels on `signal`. */
  private async *stream<T>(
    open: (md: grpc.Metadata) => grpc.ClientReadableStream<T>,
    signal?: AbortSignal,
  ): AsyncIterable<T> {
    const call = open(internalMetadata(this.secret));
    const cancel = () => call.cancel();
    signal?.addEventListener('abort', cancel, { once: true });
    try {
      for await (const message of call) yield message as T;
    } catch (err) {
      if (signal?.aborted) return;
      throw pomegrenadeError(err);
    } finally {
      signal?.removeEventListener('abort', cancel);
      call.cancel();
    }
  }

  async createDeployment(req: deploy.CreateDeploymentRequest): Promise<deploy.Deployment> {
    const res = await this.call(this.client.createDeployment, req);
    if (!res.deployment) throw new UnavailableError('the deployment service answered without a deployment');
    return res.deployment;
  }

  async getDeployment(projectId: string, number: number): Promise<deploy.Deployment> {
    const res = await this.call(this.client.getDeployment, { projectId, deploymentNumber: number });
    if (!res.deployment) throw new UnavailableError('the deployment service answered without a deployment');
    return res.deployment;
  }

  watchDeployment(
    projectId: string,
    number: number,
    signal?: AbortSignal,
  ): AsyncIterable<deploy.WatchDeploymentResponse> {
    return this.stream(
      (md) => this.client.watchDeployment({ projectId, deploymentNumber: number }, md),
      signal,
    );
  }

  async cancelDeployment(projectId: string, number: number): Promise<void> {
    await this.call(this.client.cancelDeployment, { projectId, deploymentNumber: number });
  }

  async updateProjectRouting(req: deploy.UpdateProjectRoutingRequest): Promise<void> {
    await this.call(this.client.updateProjectRouting, req);
  }

  async scaleProject(projectId: string, formation: Record<string, number>): Promise<Record<string, number>> {
    return (await this.call(this.client.scaleProject, { projectId, formation })).formation;
  }

  async restartProject(projectId: string, processType: string): Promise<void> {
    await this.call(this.client.restartProject, { projectId, processType, instanceIndex: 0 });
  }

  async stopProject(projectId: string): Promise<void> {
    await this.call(this.client.stopProject, { projectId });
  }

  async deleteProject(projectId: string): Promise<void> {
    await this.call(this.client.deleteProject, { projectId });
  }

  /** Log lines one by one (Pomegrenade sends them in batches). */
  async *streamLogs(req: deploy.StreamLogsRequest, signal?: AbortSignal): AsyncIterable<deploy.LogLine> {
    for await (const batch of this.stream((md) => this.client.streamLogs(req, md), signal))
      yield* batch.lines;
  }

  getProjectStatus(projectId: string): Promise<deploy.GetProjectStatusResponse> {
    return this.call(this.client.getProjectStatus, { projectId });
  }

  close(): void {
    this.client.close();
  }
}
