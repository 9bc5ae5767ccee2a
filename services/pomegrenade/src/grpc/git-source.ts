// Source of builds: the git controller's GitService.GetArchive, streamed as a tar archive.
import type { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as grpc from '@grpc/grpc-js';
import { fromGrpcError, internalMetadata } from '@paastech/kit';
import { git } from '@paastech/proto';
import type { SourceFetcher } from '../domain/build-runner.js';

/** Fetches commit archives over gRPC from the git controller. */
export class GitArchiveSource implements SourceFetcher {
  private client: git.GitServiceClient | undefined;

  constructor(
    private readonly address: string,
    private readonly secret: string,
  ) {}

  /** The client, created on first use (the git controller may start after Pomegrenade). */
  private get(): git.GitServiceClient {
    this.client ??= new git.GitServiceClient(this.address, grpc.credentials.createInsecure());
    return this.client;
  }

  async fetch(
    request: { projectId: string; commitSha: string; quarantine?: unknown },
    dest: Writable,
  ): Promise<void> {
    const call = this.get().getArchive(
      {
        projectId: request.projectId,
        commitSha: request.commitSha,
        format: git.ArchiveFormat.ARCHIVE_FORMAT_TAR,
        ...(request.quarantine ? { quarantine: request.quarantine as git.ObjectQuarantine } : {}),
      },
      internalMetadata(this.secret),
      { deadline: Date.now() + 5 * 60_000 },
    );
    async function* chunks() {
      for await (const msg of call as AsyncIterable<git.GetArchiveResponse>) yield msg.data;
    }
    try {
      await pipeline(chunks(), dest);
    } catch (err) {
      throw fromGrpcError(err, 'git controller');
    }
  }

  close(): void {
    this.client?.close();
  }
}
