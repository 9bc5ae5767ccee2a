// Deleting pruned deployment images on every node: the manager deletes its own copy and the
// registry's (images.ts); the other nodes' copies go through a Swarm global job, one task per node,
// running the platform's base image (node) with the node's Docker socket mounted, which DELETEs
// each tag. Invariants: the job only ever receives tags the platform computed and that match its
// own tag shape (nodeCleanupTags) — never tenant data; jobs run one at a time, in the background,
// bounded in time, and their failures are logged, never thrown at a deployment.
import crypto from 'node:crypto';
import type { Logger } from '@paastech/kit';
import type { DockerClient, Task } from './docker.js';

/** Where the node's socket appears inside the job's container. */
const SOCKET_IN_CONTAINER = '/var/run/docker.sock';
const REGISTRY = /^[A-Za-z0-9.-]+(?::\d{1,5})?$/;
const REPOSITORY = '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*';
const DONE_STATES = new Set(['complete', 'failed', 'rejected', 'shutdown', 'orphaned']);

/**
 * The job's script (argv: the tags): DELETE /images/<tag>?force=1 on the node's daemon, one line
 * per tag; a tag the node never had (404) is fine; exits 1 when any other answer came.
 */
export const CLEANUP_SCRIPT = `const http=require("node:http");
const del=(t)=>new Promise((done)=>{const q=http.request({socketPath:${JSON.stringify(SOCKET_IN_CONTAINER)},method:"DELETE",path:"/images/"+encodeURIComponent(t)+"?force=1",timeout:30000},(r)=>{let b="";r.setEncoding("utf8");r.on("data",(c)=>{b+=c});r.on("end",()=>done([r.statusCode,b]))});q.on("timeout",()=>q.destroy(new Error("timed out")));q.on("error",(e)=>done([0,e.message]));q.end()});
(async()=>{let bad=0;for(const t of process.argv.slice(1)){const [s,b]=await del(t);if(s===200)console.log("deleted "+t);else if(s===404)console.log("absent "+t);else{bad=1;console.log("failed "+t+": "+s+" "+String(b).trim().slice(0,200))}}process.exit(bad)})();`;

/** The tags a cleanup job may receive (pure): `<registry>/<repository>:v<N>` of the platform's
 * registry only; throws on anything else, quoting it. */
export function nodeCleanupTags(registry: string, tags: string[]): string[] {
  if (!REGISTRY.test(registry)) throw new Error(`image cleanup: registry "${registry}" must be host[:port]`);
  const escaped = registry.replace(/[.]/g, '\\.');
  const shape = new RegExp(`^${escaped}/${REPOSITORY}:v[1-9][0-9]{0,9}$`);
  for (const t of tags) {
    if (typeof t !== 'string' || !shape.test(t) || t.length > 255)
      throw new Error(`image cleanup: "${String(t)}" is not a deployment image of ${registry}`);
  }
  return tags;
}

export interface NodeImageCleanupOptions {
  docker: DockerClient;
  /** host:port of the platform's registry (the only one whose tags are deleted). */
  registry: string;
  /** The image the job runs (the base image as every node pulls it from the registry). */
  image: () => Promise<string>;
  /** The Docker socket path on every node (each node's daemon listens there). */
  nodeSocketPath: string;
  /** Prefix of the job's service name. */
  namespace: string;
  logger: Logger;
  /** Bound of one job (default 60 s). */
  timeoutMs?: number;
}

/** Runs the cleanup jobs one after the other, in the background. */
export class NodeImageCleanup {
  private tail: Promise<void> = Promise.resolve();
  /** Project → tags a job could not delete on some node: retried with the project's next prune. */
  private readonly retry = new Map<string, Set<string>>();

  constructor(private readonly o: NodeImageCleanupOptions) {}

  /** Queues the deletion of `tags` on the other nodes; never throws (bad tags are logged). */
  enqueue(projectId: string, tags: string[]): void {
    let checked: string[];
    try {
      checked = nodeCleanupTags(this.o.registry, tags);
    } catch (err) {
      this.o.logger.error({ err, projectId }, 'refused to delete images on the nodes');
      return;
    }
    const all = [...new Set([...(this.retry.get(projectId) ?? []), ...checked])];
    this.retry.delete(projectId);
    if (all.length === 0) return;
    this.tail = this.tail
      .then(() => this.run(projectId, all))
      .catch((err: unknown) => {
        this.later(projectId, all);
        this.o.logger.warn({ err, projectId, tags: all }, 'could not delete images on the nodes');
      });
  }

  /** Keeps `tags` for the project's next prune. */
  private later(projectId: string, tags: string[]): void {
    const set = this.retry.get(projectId) ?? new Set<string>();
    for (const t of tags) set.add(t);
    this.retry.set(projectId, set);
  }

  /** Resolves once every queued job has finished (tests, shutdown). */
  idle(): Promise<void> {
    return this.tail;
  }

  /** One job: skipped on a one-node swarm; created, awaited (bounded), reported, removed. */
  private async run(projectId: string, tags: string[]): Promise<void> {
    const nodes = await this.o.docker.listNodes();
    if (nodes.length < 2) return;
    const hostnames = new Map(nodes.map((n) => [n.ID, `${n.Description.Hostname || '?'} (${n.ID})`]));
    const id = await this.o.docker.createService({
      Name: `${this.o.namespace}-image-cleanup-${crypto.randomBytes(4).toString('hex')}`,
      Labels: { 'paastech.role': 'image-cleanup', 'paastech.project': projectId },
      TaskTemplate: {
        ContainerSpec: {
          Image: await this.o.image(),
          Command: ['node', '-e', CLEANUP_SCRIPT, ...tags],
          Mounts: [{ Type: 'bind', Source: this.o.nodeSocketPath, Target: SOCKET_IN_CONTAINER }],
        },
        Resources: { Limits: { MemoryBytes: 128 * 1024 * 1024, Pids: 64 } },
        RestartPolicy: { Condition: 'none' },
      },
      Mode: { GlobalJob: {} },
    });
    try {
      const tasks = await this.wait(id);
      for (const n of nodes) {
        const ofNode = tasks.filter((t) => t.NodeID === n.ID);
        if (ofNode.some((t) => t.Status.State === 'complete')) continue;
        this.later(projectId, tags);
        const t = ofNode[0];
        const node = hostnames.get(n.ID) ?? n.ID;
        this.o.logger.warn(
          {
            projectId,
            node,
            state: t?.Status.State ?? `no task (node ${n.Status.State}, ${n.Spec.Availability})`,
            err: t?.Status.Err ?? t?.Status.Message,
            output: t ? await this.o.docker.taskTail(t.ID, 20) : [],
          },
          `could not delete old images on node ${node}: its copy stays until the project's next prune`,
        );
      }
    } finally {
      await this.o.docker.removeService(id);
    }
  }

  /** The job's tasks once all ended, or as they are when the bound passes. */
  private async wait(serviceId: string): Promise<Task[]> {
    const deadline = Date.now() + (this.o.timeoutMs ?? 60_000);
    for (;;) {
      const tasks = await this.o.docker.listTasks({ service: [serviceId] });
      if (tasks.length > 0 && tasks.every((t) => DONE_STATES.has(t.Status.State))) return tasks;
      if (Date.now() > deadline) return tasks;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}
