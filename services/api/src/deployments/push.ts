// RecordPush: what a push held in pre-receive turns into. The stream is zero or one
// DeploymentCreated, then the deployment's steps and log lines as they happen, then exactly one
// PushResult. Invariant: the push is accepted only when its deployment became active (or when it
// deploys nothing), and a pusher hanging up cancels the deployment — so the deploy branch always
// names what is deployed.
import type * as grpc from '@grpc/grpc-js';
import { InvalidArgumentError, NotFoundError, toGrpcError } from '@paastech/kit';
import { control } from '@paastech/proto';
import type { Branches } from './branches.js';
import type { DeploymentEvent } from './deployment-events.js';
import type { DeploymentRow } from './deployments.repository.js';
import type { DeploymentsService } from './deployments.service.js';
import { decidePush, MAIN, type RefChange } from './push-policy.js';

const { PushOutcome } = control;

type PushEvent = control.RecordPushResponse;

/** The final event of a push. */
function result(outcome: control.PushOutcome, reason: string, number = 0, url = ''): PushEvent {
  return { event: { $case: 'result', value: { outcome, reason, deploymentNumber: number, url } } };
}

/** A `-----> text` line. */
function progress(text: string): PushEvent {
  return { event: { $case: 'progress', value: { text } } };
}

/** The push event of a deployment event; undefined for state changes (the result reports the end). */
function toPushEvent(event: DeploymentEvent): PushEvent | undefined {
  if (event.type === 'step') return progress(event.title);
  if (event.type === 'log')
    return {
      event: {
        $case: 'logLine',
        value: { source: event.source, text: event.text, time: new Date(event.at) },
      },
    };
  return undefined;
}

/** Turns pushes into deployments. */
export class PushRecorder {
  constructor(
    private readonly deployments: DeploymentsService,
    private readonly branches: Branches,
  ) {}

  /** The events of one push, ending with its result; `signal` aborts when the pusher hangs up. */
  async *recordPush(req: control.RecordPushRequest, signal?: AbortSignal): AsyncIterable<PushEvent> {
    if (!req.projectId || !req.pusherClientId)
      throw new InvalidArgumentError('project_id and pusher_client_id are required');
    const project = await this.deployments.repo.findProject(req.projectId);
    if (!project || project.client_id !== req.pusherClientId)
      throw new NotFoundError(`project "${req.projectId.slice(0, 100)}" not found`);
    const changes: RefChange[] = req.refUpdates.map((u) => ({
      oldSha: u.oldSha,
      newSha: u.newSha,
      refName: u.refName,
    }));
    // A push moving main needs no lookup: main is the deploy branch whether it existed or not.
    const existing = changes.some((c) => c.refName === MAIN)
      ? { main: true, master: false }
      : await this.branches.deployBranches(project.id);
    const decision = decidePush(changes, req.pushOptions, existing);
    if (decision.kind === 'not-deployed') {
      yield result(PushOutcome.PUSH_OUTCOME_NOT_DEPLOYED, decision.reason);
      return;
    }
    if (decision.kind === 'rejected') {
      yield result(PushOutcome.PUSH_OUTCOME_REJECTED, decision.reason);
      return;
    }
    const row = await this.deployments.deployPush(
      project,
      req.pusherClientId,
      decision.commitSha,
      decision.refName,
      req.quarantine,
    );
    yield {
      event: {
        $case: 'deploymentCreated',
        value: { deploymentNumber: row.number, commitSha: row.commit_sha, refName: row.ref_name },
      },
    };
    yield* this.followPush(project.name, row, signal);
  }

  /** Streams a push's deployment to its end; cancels it when the pusher hangs up first. */
  private async *followPush(
    projectName: string,
    row: DeploymentRow,
    signal?: AbortSignal,
  ): AsyncIterable<PushEvent> {
    let ended = false;
    try {
      for await (const event of this.deployments.events.subscribe(row.project_id, row.number, signal)) {
        const pushEvent = toPushEvent(event);
        if (pushEvent) yield pushEvent;
        if (event.type === 'state' && event.state === 'active') {
          ended = true;
          const url = this.deployments.appUrl(projectName);
          yield result(PushOutcome.PUSH_OUTCOME_SUCCEEDED, `deployed v${row.number}`, row.number, url);
          return;
        }
        if (event.type === 'state' && (event.state === 'failed' || event.state === 'cancelled')) {
          ended = true;
          const why =
            event.state === 'failed'
              ? `failed: ${event.failure_reason ?? 'unknown reason'}`
              : 'was cancelled';
          yield result(PushOutcome.PUSH_OUTCOME_FAILED, `deployment v${row.number} ${why}`, row.number);
          return;
        }
      }
      if (!signal?.aborted)
        yield result(
          PushOutcome.PUSH_OUTCOME_FAILED,
          `deployment v${row.number} was not finished: the API is stopping`,
          row.number,
        );
    } finally {
      if (!ended && signal?.aborted) await this.deployments.cancel(row.project_id, row.number);
    }
  }
}

/**
 * Serves one RecordPush call from `recorder`: writes each event, ends the stream, maps errors to a
 * gRPC status, and turns the caller hanging up into an aborted signal (which cancels the deployment).
 */
export async function serveRecordPush(
  recorder: PushRecorder,
  call: grpc.ServerWritableStream<control.RecordPushRequest, control.RecordPushResponse>,
): Promise<void> {
  const hangUp = new AbortController();
  call.on('cancelled', () => hangUp.abort());
  try {
    for await (const event of recorder.recordPush(call.request, hangUp.signal)) {
      if (hangUp.signal.aborted) break;
      call.write(event);
    }
    if (!hangUp.signal.aborted) call.end();
  } catch (err) {
    // emit('error'), not destroy(): grpc-js sends no status for a destroyed server stream.
    if (!hangUp.signal.aborted) call.emit('error', toGrpcError(err));
  }
}
