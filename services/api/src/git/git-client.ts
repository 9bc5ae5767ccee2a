// The API's client of the git controller (paastech.git.v1.GitService): creates and deletes project
// repositories and builds clone URLs from the endpoints the controller really serves.
import * as grpc from '@grpc/grpc-js';
import { fromGrpcError, internalMetadata } from '@paastech/kit';
import { git } from '@paastech/proto';

/** Clone URLs of one project. */
export interface CloneUrls {
  http_url: string;
  /** Null when the controller serves no SSH. */
  ssh_url: string | null;
}

/** What the projects module needs from the git controller (a port, so tests can run a contract server). */
export interface GitRepositories {
  createRepository(projectId: string): Promise<void>;
  /** Idempotent: true when there was a repository to delete. */
  deleteRepository(projectId: string): Promise<boolean>;
  cloneUrls(projectName: string): Promise<CloneUrls>;
  close(): void;
}

/** Deadline of one call: repository creation runs `git init`, so allow a few seconds. */
const CALL_TIMEOUT_MS = 15_000;

/** GitRepositories over gRPC, with the internal secret on every call and the endpoints cached. */
export class GitClient implements GitRepositories {
  private readonly client: git.GitServiceClient;
  private endpoints: Promise<git.GetGitEndpointsResponse> | undefined;

  constructor(
    address: string,
    private readonly secret: string,
  ) {
    this.client = new git.GitServiceClient(address, grpc.credentials.createInsecure());
  }

  /** Runs one unary call with the secret and a deadline, mapping gRPC errors to domain errors. */
  private call<Req, Res>(
    method: (
      req: Req,
      md: grpc.Metadata,
      opts: Partial<grpc.CallOptions>,
      cb: (err: grpc.ServiceError | null, res: Res) => void,
    ) => grpc.ClientUnaryCall,
    request: Req,
  ): Promise<Res> {
    return new Promise((resolve, reject) => {
      method.call(
        this.client,
        request,
        internalMetadata(this.secret),
        { deadline: Date.now() + CALL_TIMEOUT_MS },
        (err, res) => (err ? reject(fromGrpcError(err, 'git controller')) : resolve(res)),
      );
    });
  }

  async createRepository(projectId: string): Promise<void> {
    await this.call(this.client.createRepository, { projectId, defaultBranch: '' });
  }

  async deleteRepository(projectId: string): Promise<boolean> {
    return (await this.call(this.client.deleteRepository, { projectId })).existed;
  }

  /** `<base>/<name>.git` for both transports; the endpoints are fetched once, retried after a failure. */
  async cloneUrls(projectName: string): Promise<CloneUrls> {
    this.endpoints ??= this.call(this.client.getGitEndpoints, {});
    const current = this.endpoints;
    let ends: git.GetGitEndpointsResponse;
    try {
      ends = await current;
    } catch (err) {
      if (this.endpoints === current) this.endpoints = undefined;
      throw err;
    }
    return {
      http_url: `${ends.httpBaseUrl}/${projectName}.git`,
      ssh_url: ends.sshBaseUrl ? `${ends.sshBaseUrl}/${projectName}.git` : null,
    };
  }

  close(): void {
    this.client.close();
  }
}
