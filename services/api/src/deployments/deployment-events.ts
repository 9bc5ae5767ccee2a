// The in-process hub through which several subscribers (a push's RecordPush stream, dashboard and
// CLI server-sent-event clients) follow one deployment live. Invariant: a subscriber first gets
// every event already published for the deployment (bounded), then each new one in order, and its
// iteration ends right after the deployment's final state — never before, never hanging after.
import type { DeploymentState } from '../db/schema.js';
import { isFinished } from './deployments.repository.js';

/** One thing that happened to a deployment. */
export type DeploymentEvent =
  | { type: 'state'; state: DeploymentState; at: string; failure_reason: string | null }
  | { type: 'step'; title: string; at: string }
  | { type: 'log'; source: string; text: string; at: string };

/** Events kept per deployment for late subscribers. */
const HISTORY_MAX = 5000;
/** How long an ended deployment's events stay for subscribers arriving just after the end. */
const LINGER_MS = 30_000;

/** The live state of one deployment's events. */
interface Channel {
  history: DeploymentEvent[];
  dropped: number;
  ended: boolean;
  wake: Set<() => void>;
}

/** True when `event` ends the stream of its deployment. */
export function isFinalEvent(event: DeploymentEvent): boolean {
  return event.type === 'state' && isFinished(event.state);
}

/** Publishes and replays deployment events, keyed by project id and number. */
export class DeploymentEvents {
  private readonly channels = new Map<string, Channel>();

  private key(projectId: string, number: number): string {
    return `${projectId}#${number}`;
  }

  /** Opens the channel of a deployment about to be followed (idempotent). */
  open(projectId: string, number: number): void {
    const key = this.key(projectId, number);
    if (!this.channels.has(key))
      this.channels.set(key, { history: [], dropped: 0, ended: false, wake: new Set() });
  }

  /** True while the deployment's events can be followed live. */
  isLive(projectId: string, number: number): boolean {
    const channel = this.channels.get(this.key(projectId, number));
    return channel !== undefined && !channel.ended;
  }

  /** Whether a channel (live or lingering) exists. */
  has(projectId: string, number: number): boolean {
    return this.channels.has(this.key(projectId, number));
  }

  /** Publishes an event; a final state ends the channel, which lingers briefly for late subscribers. */
  publish(projectId: string, number: number, event: DeploymentEvent): void {
    const key = this.key(projectId, number);
    const channel = this.channels.get(key);
    if (!channel || channel.ended) return;
    channel.history.push(event);
    if (channel.history.length > HISTORY_MAX) {
      channel.history.shift();
      channel.dropped++;
    }
    if (isFinalEvent(event)) {
      channel.ended = true;
      setTimeout(() => {
        if (this.channels.get(key) === channel) this.channels.delete(key);
      }, LINGER_MS).unref();
    }
    for (const wake of channel.wake) wake();
  }

  /** Ends a channel without a final state (the API is stopping): subscribers' iterations end. */
  close(projectId: string, number: number): void {
    const key = this.key(projectId, number);
    const channel = this.channels.get(key);
    if (!channel) return;
    channel.ended = true;
    this.channels.delete(key);
    for (const wake of channel.wake) wake();
  }

  /** Events of a deployment: the history, then live ones, until it ends or `signal` aborts. */
  async *subscribe(projectId: string, number: number, signal?: AbortSignal): AsyncIterable<DeploymentEvent> {
    const channel = this.channels.get(this.key(projectId, number));
    if (!channel) return;
    let next = 0;
    let wake: (() => void) | undefined;
    const notify = () => wake?.();
    channel.wake.add(notify);
    signal?.addEventListener('abort', notify, { once: true });
    try {
      for (;;) {
        // Indices shift when the history drops its oldest events; `dropped` keeps them absolute.
        while (next - channel.dropped < channel.history.length) {
          const event = channel.history[Math.max(0, next - channel.dropped)]!;
          next = Math.max(next, channel.dropped) + 1;
          yield event;
          if (isFinalEvent(event)) return;
        }
        if (channel.ended || signal?.aborted) return;
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
        wake = undefined;
      }
    } finally {
      channel.wake.delete(notify);
      signal?.removeEventListener('abort', notify);
    }
  }

  /** Closes every channel (the API is stopping). */
  closeAll(): void {
    for (const key of [...this.channels.keys()]) {
      const [projectId, number] = key.split('#');
      this.close(projectId!, Number(number));
    }
  }
}
