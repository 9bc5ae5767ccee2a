// What happened to each deployment, for WatchDeployment: everything recorded so far is replayed to
// a new watcher, then new events are pushed until the deployment ends.
import type { DeploymentState, Failure } from './model.js';

export type DeploymentEvent =
  | { kind: 'state'; state: DeploymentState; time: Date; failure?: Failure }
  | { kind: 'step'; title: string; time: Date }
  | { kind: 'line'; source: string; text: string; time: Date };

type Watcher = (e: DeploymentEvent | null) => void;

const MAX_EVENTS = 5000;
const MAX_DEPLOYMENTS = 200;

/** Events of recent deployments, keyed by project id and number. */
export class DeploymentEvents {
  private readonly events = new Map<string, DeploymentEvent[]>();
  private readonly watchers = new Map<string, Set<Watcher>>();

  /** Records an event and hands it to watchers; a final state also closes their streams. */
  push(projectId: string, n: number, event: DeploymentEvent, final = false): void {
    const key = `${projectId}#${n}`;
    let list = this.events.get(key);
    if (!list) {
      list = [];
      this.events.set(key, list);
      if (this.events.size > MAX_DEPLOYMENTS) {
        const oldest = this.events.keys().next().value;
        if (oldest !== undefined && oldest !== key) this.events.delete(oldest);
      }
    }
    if (list.length < MAX_EVENTS) list.push(event);
    for (const w of this.watchers.get(key) ?? []) {
      w(event);
      if (final) w(null);
    }
    if (final) this.watchers.delete(key);
  }

  /** Past events, then live ones; `cb(null)` once the deployment ended. Returns an unsubscribe. */
  watch(projectId: string, n: number, ended: boolean, cb: Watcher): () => void {
    const key = `${projectId}#${n}`;
    for (const e of this.events.get(key) ?? []) cb(e);
    if (ended) {
      cb(null);
      return () => {};
    }
    let set = this.watchers.get(key);
    if (!set) {
      set = new Set();
      this.watchers.set(key, set);
    }
    set.add(cb);
    return () => set.delete(cb);
  }

  /** True when something was recorded for the deployment since this process started. */
  has(projectId: string, n: number): boolean {
    return this.events.has(`${projectId}#${n}`);
  }

  forgetProject(projectId: string): void {
    for (const key of [...this.events.keys()]) if (key.startsWith(`${projectId}#`)) this.events.delete(key);
  }
}
