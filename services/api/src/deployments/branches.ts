// Which deploy branches a project's repository has, asked of the git controller
// (GitService.ListRefs): the push policy deploys main, or master when there is no main.
import * as grpc from '@grpc/grpc-js';
import { fromGrpcError, internalMetadata } from '@paastech/kit';
import { git } from '@paastech/proto';
import { type ExistingBranches, MAIN, MASTER } from './push-policy.js';

/** Deadline of ListRefs: it reads a few refs from disk. */
const CALL_TIMEOUT_MS = 10_000;

/** The port the push policy uses. */
export interface Branches {
  deployBranches(projectId: string): Promise<ExistingBranches>;
  close(): void;
}

/** Branches over gRPC to the git controller. */
export class GitBranches implements Branches {
  private readonly client: git.GitServiceClient;

  constructor(
    address: string,
    private readonly secret: string,
  ) {
    this.client = new git.GitServiceClient(address, grpc.credentials.createInsecure());
  }

  /** Whether the repository has main and master. */
  deployBranches(projectId: string): Promise<ExistingBranches> {
    return new Promise((resolve, reject) => {
      this.client.listRefs(
        { projectId, prefix: 'refs/heads/' },
        internalMetadata(this.secret),
        { deadline: Date.now() + CALL_TIMEOUT_MS },
        (err, res) => {
          if (err) return reject(fromGrpcError(err, 'git controller'));
          const names = new Set(res.refs.map((r) => r.name));
          resolve({ main: names.has(MAIN), master: names.has(MASTER) });
        },
      );
    });
  }

  close(): void {
    this.client.close();
  }
}
