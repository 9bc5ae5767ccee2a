// A ControlService contract server for the git controller's tests: real gRPC over a Unix socket,
// AuthorizeGitAccess from a fixed table of clients, and a RecordPush that behaves like the API's
// policy (deploy branch main, others stored not deployed) with delays between events, or whatever a
// test plugs in.
import * as grpc from '@grpc/grpc-js';
import { listenGrpc, requireInternalSecret, stopGrpc } from '@paastech/kit';
import { control } from '@paastech/proto';

/** One Client of the fake API. */
export interface FakeClient {
  id: string;
  tokens: string[];
  readOnlyTokens?: string[];
  fingerprints: string[];
  /** project name → project id */
  projects: Record<string, string>;
}

/** A RecordPush implementation: write events, then end. */
export type PushScript = (
  req: control.RecordPushRequest,
  send: (e: control.RecordPushResponse) => Promise<void>,
  call: grpc.ServerWritableStream<control.RecordPushRequest, control.RecordPushResponse>,
) => Promise<void>;

export interface FakeControl {
  address: string;
  clients: FakeClient[];
  /** Every AuthorizeGitAccess request received. */
  authorizations: control.AuthorizeGitAccessRequest[];
  /** Every RecordPush request received. */
  pushes: control.RecordPushRequest[];
  /** Replace to change what RecordPush does. */
  script: PushScript;
  /** Pause between events of the default script. */
  delayMs: number;
  /** How many RecordPush calls were cancelled by the controller. */
  cancelled: number;
  stop(): Promise<void>;
}

const { PushOutcome, GitAccessDenialReason: Denial } = control;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The default policy: main deploys (three events apart), `-o fail` fails, other refs are stored. */
export function defaultScript(fake: { delayMs: number }): PushScript {
  return async (req, send) => {
    const deploy = req.refUpdates.find((u) => u.refName === 'refs/heads/main' && !/^0+$/.test(u.newSha));
    if (!deploy) {
      const names = req.refUpdates.map((u) => u.refName).join(', ');
      await send({ event: { $case: 'progress', value: { text: `recorded ${names}` } } });
      await send(result(PushOutcome.PUSH_OUTCOME_NOT_DEPLOYED, 'not the deploy branch'));
      return;
    }
    await send({
      event: {
        $case: 'deploymentCreated',
        value: { deploymentNumber: 1, commitSha: deploy.newSha, refName: deploy.refName },
      },
    });
    await sleep(fake.delayMs);
    await send({
      event: { $case: 'progress', value: { text: `Building ${deploy.newCommit?.subject ?? '?'}` } },
    });
    await sleep(fake.delayMs);
    await send({ event: { $case: 'logLine', value: { source: 'build', text: 'step 1 of 2' } } });
    await sleep(fake.delayMs);
    await send({ event: { $case: 'logLine', value: { source: 'build', text: 'step 2 of 2' } } });
    await sleep(fake.delayMs);
    if (req.pushOptions.includes('fail')) {
      await send(result(PushOutcome.PUSH_OUTCOME_FAILED, 'build failed: step 2 exited with code 1'));
    } else {
      const value = {
        outcome: PushOutcome.PUSH_OUTCOME_SUCCEEDED,
        reason: '',
        deploymentNumber: 1,
        url: 'http://app.localhost:8080',
      };
      await send({ event: { $case: 'result', value } });
    }
  };
}

/** A result event. */
export function result(outcome: control.PushOutcome, reason: string): control.RecordPushResponse {
  return { event: { $case: 'result', value: { outcome, reason, deploymentNumber: 0, url: '' } } };
}

/** Starts the fake API's ControlService on `address`. */
export async function startFakeControl(
  address: string,
  secret: string,
  clients: FakeClient[],
): Promise<FakeControl> {
  const server = new grpc.Server({ interceptors: [requireInternalSecret(secret)] });
  const fake: FakeControl = {
    address,
    clients,
    authorizations: [],
    pushes: [],
    delayMs: 300,
    cancelled: 0,
    script: undefined as unknown as PushScript,
    stop: () => stopGrpc(server, address, 100),
  };
  fake.script = defaultScript(fake);
  const impl: control.ControlServiceServer = {
    authorizeGitAccess(call, callback) {
      fake.authorizations.push(call.request);
      callback(null, decide(fake.clients, call.request));
    },
    recordPush(call) {
      fake.pushes.push(call.request);
      let cancelled = false;
      call.on('cancelled', () => {
        cancelled = true;
        fake.cancelled++;
      });
      const send = async (e: control.RecordPushResponse) => {
        if (!cancelled) call.write(e);
      };
      fake.script(call.request, send, call).then(
        () => call.end(),
        (err: Error) =>
          call.destroy(Object.assign(err, { code: grpc.status.INTERNAL, details: err.message })),
      );
    },
  };
  server.addService(control.ControlServiceService, impl);
  await listenGrpc(server, address);
  return fake;
}

/** The table lookup of AuthorizeGitAccess. */
function decide(
  clients: FakeClient[],
  req: control.AuthorizeGitAccessRequest,
): control.AuthorizeGitAccessResponse {
  const denied = (reason: control.GitAccessDenialReason, message: string) => ({
    allowed: false,
    clientId: '',
    projectId: '',
    denialReason: reason,
    denialMessage: message,
  });
  const cred = req.credential;
  const client = clients.find((c) =>
    cred?.$case === 'apiToken'
      ? c.tokens.includes(cred.value) || c.readOnlyTokens?.includes(cred.value)
      : cred?.$case === 'sshKeyFingerprint' && c.fingerprints.includes(cred.value),
  );
  if (!client) return denied(Denial.GIT_ACCESS_DENIAL_REASON_INVALID_CREDENTIAL, 'invalid credential');
  const projectId = client.projects[req.projectName];
  if (!projectId)
    return denied(
      Denial.GIT_ACCESS_DENIAL_REASON_PROJECT_NOT_FOUND,
      `repository "${req.projectName}" not found`,
    );
  const readOnly = cred?.$case === 'apiToken' && client.readOnlyTokens?.includes(cred.value);
  if (readOnly && req.access === control.GitAccess.GIT_ACCESS_WRITE) {
    return denied(Denial.GIT_ACCESS_DENIAL_REASON_INSUFFICIENT_SCOPE, 'this token may not push');
  }
  return { allowed: true, clientId: client.id, projectId, denialReason: 0, denialMessage: '' };
}
