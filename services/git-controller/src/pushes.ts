// Pushes in progress. Invariant: the identity behind a push (project id, client id) is only ever
// what the controller recorded when it authorized the pusher and started receive-pack; the hook
// presents a random push id, and an id the controller did not hand out is refused. Pushes to one
// project are serialized by a per-project lock held from the hook to the end of receive-pack.
import { randomBytes } from 'node:crypto';

/** A receive-pack started for an authorized pusher. */
export interface PushSession {
  readonly id: string;
  readonly projectId: string;
  readonly clientId: string;
  /** Releases the project lock; set once the hook acquired it. */
  release?: () => void;
  /** True once the hook accepted the push. */
  accepted: boolean;
  /** The push's quarantine (checked to be in the repository), removed if git leaves it behind. */
  quarantineDir?: string;
  /** Aborted when receive-pack has exited: whatever the hook started for it must stop. */
  readonly ended: AbortController;
}

interface Waiter {
  grant: () => void;
}

/** FIFO locks keyed by project id. */
export class ProjectLocks {
  private readonly queues = new Map<string, Waiter[]>();

  /**
   * Resolves with a release function once the lock is ours; rejects with `timeout` after
   * `timeoutMs`, or when `abort` fires. `onWait` is called when the lock is not free at once.
   */
  acquire(
    key: string,
    timeoutMs: number,
    options: { abort?: AbortSignal; onWait?: () => void } = {},
  ): Promise<() => void> {
    const queue = this.queues.get(key) ?? [];
    this.queues.set(key, queue);
    return new Promise((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const leave = () => {
        const i = queue.indexOf(waiter);
        if (i >= 0) queue.splice(i, 1);
        if (i === 0) queue[0]?.grant();
        if (queue.length === 0) this.queues.delete(key);
      };
      const onAbort = () => {
        clearTimeout(timer);
        leave();
        reject(new Error('aborted'));
      };
      const waiter: Waiter = {
        grant: () => {
          clearTimeout(timer);
          options.abort?.removeEventListener('abort', onAbort);
          let released = false;
          resolve(() => {
            if (released) return;
            released = true;
            leave();
          });
        },
      };
      queue.push(waiter);
      if (queue.length === 1) return waiter.grant();
      options.onWait?.();
      timer = setTimeout(() => {
        options.abort?.removeEventListener('abort', onAbort);
        leave();
        reject(new Error('timeout'));
      }, timeoutMs);
      options.abort?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** True when someone holds or waits for `key`. */
  busy(key: string): boolean {
    return (this.queues.get(key)?.length ?? 0) > 0;
  }
}

/** The pushes the controller started, by push id. */
export class Pushes {
  private readonly sessions = new Map<string, PushSession>();
  readonly locks = new ProjectLocks();

  /** Records a new push for an authorized client and returns it (its id goes into git's env). */
  begin(projectId: string, clientId: string): PushSession {
    const session: PushSession = {
      id: randomBytes(24).toString('hex'),
      projectId,
      clientId,
      accepted: false,
      ended: new AbortController(),
    };
    this.sessions.set(session.id, session);
    return session;
  }

  /** The push with this id, if the controller started it and it is still running. */
  get(id: string): PushSession | undefined {
    return this.sessions.get(id);
  }

  /** True while a push to the project holds or waits for its lock (a deploy may run silently). */
  holdingProject(projectId: string): boolean {
    return this.locks.busy(projectId);
  }

  /** Forgets a finished push and releases its project lock. */
  end(id: string): void {
    const s = this.sessions.get(id);
    this.sessions.delete(id);
    s?.ended.abort();
    s?.release?.();
  }
}
