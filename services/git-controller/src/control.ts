// Client of the API's paastech.control.v1.ControlService: who may read or write a project, and what
// happens to a push. The controller obeys; policy lives in the API.
import * as grpc from '@grpc/grpc-js';
import { DATABASE_UNAVAILABLE, fromGrpcError, internalMetadata, UnavailableError } from '@paastech/kit';
import { control } from '@paastech/proto';

/** A credential a git client presented. */
export type GitCredential =
  | { $case: 'apiToken'; value: string }
  | { $case: 'sshKeyFingerprint'; value: string };

/** One authorization question. */
export interface AccessQuestion {
  credential: GitCredential;
  projectName: string;
  write: boolean;
  transport: 'http' | 'ssh';
  remoteAddress: string;
}

const AUTHORIZE_DEADLINE_MS = 15_000;

/**
 * What a pusher is told when the API could not answer whether it may access a repository: the
 * API's database out of reach is named (its own message, a fixed text), anything else is not
 * detailed (connection errors name internal paths).
 */
export function accessUncheckable(err: unknown): string {
  const dbDown = err instanceof UnavailableError && err.message.endsWith(DATABASE_UNAVAILABLE);
  return dbDown
    ? "git access cannot be checked right now: the platform's database is unavailable; try again shortly"
    : 'git access cannot be checked right now; try again';
}

/** The ControlService as the controller uses it. */
export class ControlClient {
  private readonly client: control.ControlServiceClient;

  constructor(
    address: string,
    private readonly secret: string,
  ) {
    this.client = new control.ControlServiceClient(address, grpc.credentials.createInsecure());
  }

  /** Asks the API whether the credential may do this; errors become domain errors. */
  authorize(q: AccessQuestion): Promise<control.AuthorizeGitAccessResponse> {
    const request: control.AuthorizeGitAccessRequest = {
      credential: q.credential,
      projectName: q.projectName,
      access: q.write ? control.GitAccess.GIT_ACCESS_WRITE : control.GitAccess.GIT_ACCESS_READ,
      transport:
        q.transport === 'http'
          ? control.GitTransport.GIT_TRANSPORT_HTTP
          : control.GitTransport.GIT_TRANSPORT_SSH,
      remoteAddress: q.remoteAddress,
    };
    return new Promise((resolve, reject) => {
      this.client.authorizeGitAccess(
        request,
        internalMetadata(this.secret),
        { deadline: Date.now() + AUTHORIZE_DEADLINE_MS },
        (err, res) => (err ? reject(fromGrpcError(err, 'api')) : resolve(res)),
      );
    });
  }

  /** Starts RecordPush; the caller reads events and may cancel the call. */
  recordPush(request: control.RecordPushRequest): grpc.ClientReadableStream<control.RecordPushResponse> {
    return this.client.recordPush(request, internalMetadata(this.secret));
  }

  close(): void {
    this.client.close();
  }
}
