// Follows one deployment on Pomegrenade (WatchDeployment) and records what happens to it: each
// state change with its time and failure reason, the build output (bounded), and every event on the
// hub for live subscribers. Invariant: a followed deployment always reaches a final state in the
// database — when Pomegrenade forgot it or stays unreachable, it is failed with a reason that says
// so — except when the API itself stops, which leaves it for the next start to reconcile.
import { DomainError, type Logger, NotFoundError, UnavailableError } from '@paastech/kit';
import { deploy } from '@paastech/proto';
import { isoNow } from '../db/ids.js';
import type { DeploymentState } from '../db/schema.js';
import { BuildOutput } from './build-output.js';
import type { DeploymentEvents } from './deployment-events.js';
import { type DeploymentRow, type DeploymentsRepository, isFinished } from './deployments.repository.js';
import type { Pomegrenade } from './pomegrenade-client.js';

/** Failure reason of a deployment Pomegrenade does not know after a restart. */
export const INTERRUPTED = 'interrupted by a platform restart';

/** Timing of the follower; tests shorten it. */
export interface FollowTiming {
  /** Pause between attempts to reach Pomegrenade again. */
  retryMs: number;
  /** How long Pomegrenade may stay unreachable before the deployment is failed. */
  giveUpMs: number;
  /** Longest pause between two saves of the build output while it streams. */
  saveEveryMs: number;
}

export const DEFAULT_FOLLOW_TIMING: FollowTiming = { retryMs: 1000, giveUpMs: 60_000, saveEveryMs: 2000 };

const STATES: Partial<Record<deploy.DeploymentState, DeploymentState>> = {
  [deploy.DeploymentState.DEPLOYMENT_STATE_QUEUED]: 'queued',
  [deploy.DeploymentState.DEPLOYMENT_STATE_BUILDING]: 'building',
  [deploy.DeploymentState.DEPLOYMENT_STATE_RELEASING]: 'releasing',
  [deploy.DeploymentState.DEPLOYMENT_STATE_ACTIVE]: 'active',
  [deploy.DeploymentState.DEPLOYMENT_STATE_FAILED]: 'failed',
  [deploy.DeploymentState.DEPLOYMENT_STATE_SUPERSEDED]: 'superseded',
  [deploy.DeploymentState.DEPLOYMENT_STATE_CANCELLED]: 'cancelled',
};

/** The database state of a Pomegrenade state; undefined for UNSPECIFIED or unknown values. */
export function stateOf(state: deploy.DeploymentState): DeploymentState | undefined {
  return STATES[state];
}

/** Order of states: a replayed or late event never moves a deployment back. */
const RANK: Record<DeploymentState, number> = {
  queued: 0,
  building: 1,
  releasing: 2,
  active: 3,
  failed: 3,
  cancelled: 3,
  superseded: 4,
};

/** A failure as a person reads it: Pomegrenade's message, else the failure class in words. */
export function failureText(failure: deploy.DeploymentFailure | undefined): string {
  if (failure?.message) return failure.message;
  const name = deploy.deploymentFailureReasonToJSON(failure?.reason ?? 0);
  const words = name
    .replace(/^DEPLOYMENT_FAILURE_REASON_/, '')
    .toLowerCase()
    .replaceAll('_', ' ');
  return words === 'unspecified' || words === 'unrecognized' ? 'the deployment failed' : words;
}

/** Why a call to Pomegrenade failed, for a failure reason. */
function reasonOf(err: unknown): string {
  return err instanceof DomainError ? err.message : 'the deployment service failed unexpectedly';
}

/** Resolves after `ms`, or at once when `signal` aborts. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
  });
}

/** Where following a deployment has got to. */
interface Progress {
  /** Time of the newest event delivered, and the events delivered at that time. */
  lastTime: number;
  atLastTime: Set<string>;
  /** True when the output grew since it was last saved. */
  dirty: boolean;
  /** The state last recorded. */
  state: DeploymentState;
}

/** The time of a watch event, in ms; undefined when it carries none. */
function eventTime(event: deploy.WatchDeploymentResponse): number | undefined {
  const e = event.event;
  return e ? e.value.time?.getTime() : undefined;
}

/**
 * True when a new watch replays an event an earlier one delivered (a watch starts with what is
 * already recorded); notes the event as delivered otherwise. Events are in time order.
 */
function isReplayed(event: deploy.WatchDeploymentResponse, progress: Progress): boolean {
  const time = eventTime(event);
  if (time === undefined) return false;
  const signature = JSON.stringify(event);
  if (time < progress.lastTime || (time === progress.lastTime && progress.atLastTime.has(signature)))
    return true;
  if (time > progress.lastTime) {
    progress.lastTime = time;
    progress.atLastTime.clear();
  }
  progress.atLastTime.add(signature);
  return false;
}

/** Records the events of deployments into the database and onto the hub. */
export class DeploymentFollower {
  constructor(
    private readonly repo: DeploymentsRepository,
    private readonly pomegrenade: Pomegrenade,
    private readonly events: DeploymentEvents,
    private readonly logger: Logger,
    private readonly timing: FollowTiming,
    /** Runs as a deployment goes live, before it is recorded active (a failure is logged). */
    private readonly onLive: (row: DeploymentRow) => Promise<void> = async () => {},
  ) {}

  /** Ends a deployment without Pomegrenade: records the state and ends the live stream. */
  async finish(
    row: DeploymentRow,
    state: DeploymentState,
    reason: string | null,
    output?: string,
  ): Promise<void> {
    const at = isoNow();
    await this.repo.updateState(row.id, {
      state,
      at,
      failureReason: reason,
      ...(output !== undefined ? { buildOutput: output } : {}),
    });
    this.events.publish(row.project_id, row.number, { type: 'state', state, at, failure_reason: reason });
  }

  /** Fails a deployment because of an error talking to Pomegrenade. */
  failWith(row: DeploymentRow, err: unknown, output?: string): Promise<void> {
    if (!(err instanceof DomainError))
      this.logger.error({ err, number: row.number }, 'deployment service call failed');
    const reason = err instanceof NotFoundError ? INTERRUPTED : reasonOf(err);
    return this.finish(row, 'failed', reason, output);
  }

  /** Follows `row` until it ends (or `signal` aborts, leaving it for the next start). */
  async follow(row: DeploymentRow, signal: AbortSignal): Promise<void> {
    this.events.open(row.project_id, row.number);
    const output = new BuildOutput();
    const progress: Progress = { lastTime: 0, atLastTime: new Set(), dirty: false, state: row.state };
    // Output is saved with each state change, and in between every saveEveryMs while it grows.
    const saver = setInterval(() => {
      if (!progress.dirty) return;
      progress.dirty = false;
      this.repo
        .saveOutput(row.id, output.text())
        .catch((err: unknown) => this.logger.warn({ err }, 'saving build output failed'));
    }, this.timing.saveEveryMs);
    try {
      await this.followUntilEnd(row, signal, output, progress);
    } finally {
      clearInterval(saver);
    }
  }

  /** The loop of `follow`: watch, and watch again after Pomegrenade was briefly unreachable. */
  private async followUntilEnd(
    row: DeploymentRow,
    signal: AbortSignal,
    output: BuildOutput,
    progress: Progress,
  ): Promise<void> {
    let giveUpAt = Date.now() + this.timing.giveUpMs;
    while (!signal.aborted) {
      try {
        // Asked first: a deployment Pomegrenade does not know (lost in a restart) fails at once
        // with NOT_FOUND, whatever its WatchDeployment does with an unknown deployment.
        await this.pomegrenade.getDeployment(row.project_id, row.number);
        for await (const event of this.pomegrenade.watchDeployment(row.project_id, row.number, signal)) {
          giveUpAt = Date.now() + this.timing.giveUpMs;
          if (isReplayed(event, progress)) continue;
          if (await this.record(row, event, output, progress)) return;
        }
        if (signal.aborted) return;
        if (await this.recordCurrent(row, output)) return;
      } catch (err) {
        if (signal.aborted) return;
        if (!(err instanceof UnavailableError) || Date.now() >= giveUpAt)
          return this.failWith(row, err, output.text());
        await sleep(this.timing.retryMs, signal);
      }
    }
  }

  /** After a watch ended without a final state: records the state Pomegrenade reports, if final. */
  private async recordCurrent(row: DeploymentRow, output: BuildOutput): Promise<boolean> {
    const current = await this.pomegrenade.getDeployment(row.project_id, row.number);
    const state = stateOf(current.state);
    if (!state || !isFinished(state)) return false;
    const reason = state === 'failed' ? failureText(current.failure) : null;
    await this.finish(row, state, reason, output.text());
    return true;
  }

  /** Records one event; true when it was the final one. */
  private async record(
    row: DeploymentRow,
    event: deploy.WatchDeploymentResponse,
    output: BuildOutput,
    progress: Progress,
  ): Promise<boolean> {
    const e = event.event;
    const at = (time: Date | undefined) => (time ?? new Date()).toISOString();
    if (e?.$case === 'step') {
      output.add(`-----> ${e.value.title}`);
      this.events.publish(row.project_id, row.number, {
        type: 'step',
        title: e.value.title,
        at: at(e.value.time),
      });
    } else if (e?.$case === 'logLine') {
      output.add(e.value.text);
      const line = { type: 'log' as const, source: e.value.source, text: e.value.text, at: at(e.value.time) };
      this.events.publish(row.project_id, row.number, line);
    } else if (e?.$case === 'stateChange') {
      return this.recordState(row, e.value, output, progress);
    }
    progress.dirty = true;
    return false;
  }

  /** Records a state change; an active deployment supersedes the project's previous one. */
  private async recordState(
    row: DeploymentRow,
    change: deploy.DeploymentStateChange,
    output: BuildOutput,
    progress: Progress,
  ): Promise<boolean> {
    const state = stateOf(change.state);
    if (!state || RANK[state] <= RANK[progress.state]) return false;
    progress.state = state;
    const at = (change.time ?? new Date()).toISOString();
    const reason = state === 'failed' ? failureText(change.failure) : null;
    progress.dirty = false;
    if (state === 'active') {
      await this.onLive(row).catch((err: unknown) =>
        this.logger.error({ err, number: row.number }, 'a live deployment could not be adopted'),
      );
    }
    await this.repo.updateState(row.id, { state, at, failureReason: reason, buildOutput: output.text() });
    if (state === 'active') await this.repo.supersedeOthers(row.project_id, row.number);
    this.events.publish(row.project_id, row.number, { type: 'state', state, at, failure_reason: reason });
    return isFinished(state);
  }
}
