// paastech.control.v1.ControlService, served to the git controller over the internal-secret gRPC
// server. Policy lives here: who may read or write which repository, and what a push does. A denial
// never tells "no such project" from "not your project".
import type * as grpc from '@grpc/grpc-js';
import {
  DATABASE_UNAVAILABLE,
  InvalidArgumentError,
  type Logger,
  NotFoundError,
  toGrpcError,
  UnavailableError,
} from '@paastech/kit';
import { control } from '@paastech/proto';
import type { AuditService } from '../audit/audit.service.js';
import type { Database } from '../db/database.js';
import { isDatabaseUnavailable } from '../db/errors.js';
import { isoNow } from '../db/ids.js';
import { type PushRecorder, serveRecordPush } from '../deployments/push.js';
import type { TokensService } from '../tokens/tokens.service.js';

const { GitAccess, GitAccessDenialReason: Denial, PushOutcome } = control;

/** What RecordPush answers until deployments exist (Pomegrenade is not wired to the API yet). */
export const NOT_DEPLOYED_REASON = 'push recorded; deployments are not available yet, nothing was deployed';

/** Longest project name echoed back in a denial message. */
const MAX_ECHO = 100;

/** The ControlService handlers, over the API's database. */
export class ControlHandlers {
  constructor(
    private readonly database: Database,
    private readonly tokens: TokensService,
    private readonly audit: AuditService,
    private readonly logger: Logger,
    private readonly pushes?: PushRecorder,
  ) {}

  /** The handler object grpc-js serves. */
  implementation(): control.ControlServiceServer {
    return {
      authorizeGitAccess: (call, callback) => {
        this.authorize(call.request).then(
          (res) => callback(null, res),
          (err) => callback(toGrpcError(this.unexpected(err)) as grpc.ServiceError),
        );
      },
      recordPush: (call) => {
        // grpc-js ends a server stream with a status when the call emits 'error'.
        this.recordPush(call).catch((err) => call.emit('error', toGrpcError(this.unexpected(err))));
      },
    };
  }

  /**
   * Logs errors that are not domain errors (they reach the peer as INTERNAL without detail); the
   * database out of reach reaches it as UNAVAILABLE, saying so (the git controller tells pushers).
   */
  private unexpected(err: unknown): unknown {
    if (isDatabaseUnavailable(err)) return new UnavailableError(DATABASE_UNAVAILABLE, { cause: err });
    if (!(err instanceof Error && 'code' in err && typeof (err as { code: unknown }).code === 'string'))
      this.logger.error({ err }, 'control service call failed');
    return err;
  }

  /** Decides whether the credential's Client may access the project's repository. */
  async authorize(req: control.AuthorizeGitAccessRequest): Promise<control.AuthorizeGitAccessResponse> {
    if (req.access !== GitAccess.GIT_ACCESS_READ && req.access !== GitAccess.GIT_ACCESS_WRITE)
      throw new InvalidArgumentError('access must be GIT_ACCESS_READ or GIT_ACCESS_WRITE');
    const clientId = await this.credentialOwner(req.credential);
    if (!clientId)
      return deny(
        Denial.GIT_ACCESS_DENIAL_REASON_INVALID_CREDENTIAL,
        'invalid credentials: unknown, expired or revoked',
      );
    const project = await this.database.db
      .selectFrom('projects')
      .select('id')
      .where('name', '=', req.projectName)
      .where('client_id', '=', clientId)
      .executeTakeFirst();
    if (!project)
      return deny(
        Denial.GIT_ACCESS_DENIAL_REASON_PROJECT_NOT_FOUND,
        `repository "${req.projectName.slice(0, MAX_ECHO)}" not found`,
      );
    return {
      allowed: true,
      clientId,
      projectId: project.id,
      denialReason: Denial.GIT_ACCESS_DENIAL_REASON_UNSPECIFIED,
      denialMessage: '',
    };
  }

  /** The Client behind an API token or a registered SSH key; records the key's use. */
  private async credentialOwner(
    credential: control.AuthorizeGitAccessRequest['credential'],
  ): Promise<string | undefined> {
    if (credential?.$case === 'apiToken') return (await this.tokens.authenticate(credential.value))?.clientId;
    if (credential?.$case !== 'sshKeyFingerprint' || credential.value === '') return undefined;
    const key = await this.database.db
      .updateTable('ssh_keys')
      .set({ last_used_at: isoNow() })
      .where('fingerprint', '=', credential.value)
      .returning('client_id')
      .executeTakeFirst();
    return key?.client_id;
  }

  /** Records a push; until deployments exist, answers "recorded, nothing deployed" (the push succeeds). */
  async recordPush(
    call: grpc.ServerWritableStream<control.RecordPushRequest, control.RecordPushResponse>,
  ): Promise<void> {
    const req = call.request;
    if (!req.projectId || !req.pusherClientId)
      throw new InvalidArgumentError('project_id and pusher_client_id are required');
    const project = await this.database.db
      .selectFrom('projects')
      .select(['id', 'name'])
      .where('id', '=', req.projectId)
      .where('client_id', '=', req.pusherClientId)
      .executeTakeFirst();
    if (!project) throw new NotFoundError(`project "${req.projectId.slice(0, MAX_ECHO)}" not found`);
    const refs = req.refUpdates.map((u) => ({ ref: u.refName, old: u.oldSha, new: u.newSha }));
    await this.audit.record(req.pusherClientId, 'git.push', `project:${project.name}`, null, { refs });
    if (this.pushes) return serveRecordPush(this.pushes, call);
    call.write({ event: { $case: 'progress', value: { text: NOT_DEPLOYED_REASON } } });
    call.write({
      event: {
        $case: 'result',
        value: {
          outcome: PushOutcome.PUSH_OUTCOME_NOT_DEPLOYED,
          reason: NOT_DEPLOYED_REASON,
          deploymentNumber: 0,
          url: '',
        },
      },
    });
    call.end();
  }
}

/** A refusal. */
function deny(reason: control.GitAccessDenialReason, message: string): control.AuthorizeGitAccessResponse {
  return { allowed: false, clientId: '', projectId: '', denialReason: reason, denialMessage: message };
}
