// SwarmRuntime (PAASTECH_RUNTIME=swarm): Docker Swarm runs and supervises the instances. Builds and
// release commands still run in this machine's sandbox (the `local` runtime); a build becomes an
// image in the registry every node pulls from; each process type is a service (services.ts) that
// Swarm updates start-first, health-gated, rolling back by itself on failure. Invariants: a rollout
// resolves only when every new web task runs, passed its in-container health check and answers on
// its published address as the router sees it; when it rejects, the services run the previous
// deployment again (or nothing, for a first deployment) — never a half-rolled mix; the engine's
// view of tasks comes from one poll of the swarm for all watched projects, refreshed before a
// rollout resolves so the route never lags behind it.
import type { Logger } from '@paastech/kit';
import { buildLimits } from '../../domain/build-runner.js';
import { diagnose, probe } from '../../domain/health.js';
import type {
  Builder,
  DesiredDeployment,
  Orchestrator,
  OrchestratorHooks,
  ProcessSpec,
  RolloutFailure,
  RunningProcess,
  Runtime,
} from '../../domain/ports.js';
import { RolloutFailedError } from '../../domain/ports.js';
import {
  DockerClient,
  DockerError,
  type Following,
  type Service,
  type SwarmNode,
  type Task,
} from './docker.js';
import { DockerfileBuilder } from './dockerfile-builder.js';
import { EgressKeeper } from './egress-guard.js';
import { ImageBuilder, imageRepository, imageTag, registryTags } from './images.js';
import { NodeImageCleanup } from './node-image-cleanup.js';
import { GuardKeeper, hostIptables, type IptablesRunner, readPortRange } from './published-port-guard.js';
import {
  exitCodeOf,
  LABEL,
  networkName,
  parseHealthOutput,
  projectFilter,
  projectLabels,
  sameSpec,
  serviceName,
  serviceSpec,
  taskStatuses,
  WEB_PORT,
} from './services.js';

/** Builds, stores and deletes the images of builds (images.ts of this directory). */
export interface ImageStore {
  /** The reference of a build's image, as every node pulls it. */
  ref(projectId: string, buildNumber: number): string;
  /** Builds the image of `d`'s build from its app dir and pushes it (nothing when already pushed). */
  ensure(d: DesiredDeployment, signal: AbortSignal, onLine: (text: string) => void): Promise<void>;
  /** Build numbers of the project's images in the registry. */
  list(projectId: string): Promise<number[]>;
  /** Deletes a build's image from the registry and this node. */
  remove(projectId: string, buildNumber: number): Promise<void>;
  /** The image platform jobs run on every node (the base image, in the registry); without it, pruned
   * images are deleted on this node only. */
  nodeImage?(): Promise<string>;
}

/**
 * The ImageStore over images.ts: `<registry>/<project>:v<build>`, built FROM the base image with
 * the build's tree and start commands only — the environment (config vars included) stays out of
 * the image and reaches tasks through their service.
 */
export function registryImages(builder: ImageBuilder, registry: string): ImageStore {
  const ref = (projectId: string, n: number) => imageTag(registry, projectId, n);
  return {
    ref,
    async ensure(d, signal, onLine) {
      const tags = await registryTags(registry, imageRepository(d.projectId));
      if (tags.includes(`v${d.buildNumber}`)) return;
      if (d.builtImage) return pushBuilt(builder, d, signal, onLine);
      const tag = await builder.buildImage({
        artifactDir: d.appDir,
        project: d.projectId,
        number: d.buildNumber,
        processes: d.processes,
        env: {},
        onLine,
        signal,
      });
      onLine(`pushing ${tag}`);
      await builder.pushImage(tag);
    },
    async list(projectId) {
      const tags = await registryTags(registry, imageRepository(projectId));
      return tags
        .map((t) => Number(/^v(\d+)$/.exec(t)?.[1] ?? Number.NaN))
        .filter((n) => Number.isInteger(n));
    },
    async remove(projectId, n) {
      await builder.removeImage(ref(projectId, n));
    },
    nodeImage: () => builder.publishBaseImage(),
  };
}

/** Pushes the image a Dockerfile build made; built again from its context (the build's tree)
 * when this node no longer has it. */
async function pushBuilt(
  builder: ImageBuilder,
  d: DesiredDeployment,
  signal: AbortSignal,
  onLine: (text: string) => void,
): Promise<void> {
  const tag = d.builtImage as string;
  onLine(`pushing ${tag}`);
  try {
    await builder.pushImage(tag);
    return;
  } catch (err) {
    if (!/does not exist|No such image/i.test((err as Error).message)) throw err;
  }
  onLine(`${tag} is no longer on this node: building the Dockerfile again`);
  await builder.buildFromDockerfile({
    contextDir: d.appDir,
    project: d.projectId,
    number: d.buildNumber,
    resources: buildLimits(d.limits),
    onLine,
    signal,
  });
  await builder.pushImage(tag);
}

/** A SwarmRuntime on the manager at `socketPath`; throws when that daemon is not a swarm manager. */
export async function connectSwarm(o: {
  socketPath: string;
  registry: string;
  namespace: string;
  baseCacheDir: string;
  mirror?: string;
  /** Install the published-port guard on this node (PAASTECH_SWARM_PORT_GUARD). */
  portGuard: boolean;
  /** iptables of this node (tests: the manager's network namespace). */
  iptables?: IptablesRunner;
  local: Runtime;
  logger: Logger;
}): Promise<SwarmRuntime> {
  const docker = new DockerClient(o.socketPath);
  const info = await docker.info().catch((err: Error) => {
    throw new Error(`PAASTECH_RUNTIME=swarm: no Docker daemon answers at ${o.socketPath} (${err.message})`);
  });
  if (!info.Swarm?.ControlAvailable)
    throw new Error(
      `PAASTECH_RUNTIME=swarm: the daemon at ${o.socketPath} is not a swarm manager (run \`docker swarm init\` there; docs/swarm.md)`,
    );
  const builder = new ImageBuilder({
    docker,
    registry: o.registry,
    baseCacheDir: o.baseCacheDir,
    ...(o.mirror ? { mirror: o.mirror } : {}),
  });
  const runtime = new SwarmRuntime({
    docker,
    local: o.local,
    images: registryImages(builder, o.registry),
    builders: [new DockerfileBuilder(builder, docker)],
    namespace: o.namespace,
    logger: o.logger,
    guard: o.portGuard ? { iptables: o.iptables ?? hostIptables() } : null,
    nodeId: info.Swarm.NodeID,
    registry: o.registry,
  });
  await runtime.start();
  return runtime;
}

export interface SwarmRuntimeOptions {
  docker: DockerClient;
  /** Runs builds and release commands on this machine (LocalRuntime or UnconfinedRuntime). */
  local: Runtime;
  images: ImageStore;
  /** Builders only this runtime offers (the Dockerfile one), tried before the default ones. */
  builders?: Builder[];
  /** Prefix of every service and network name, and the value of the paastech.namespace label. */
  namespace: string;
  logger: Logger;
  /** Interval of the task poll (default 500 ms). */
  pollMs?: number;
  /**
   * The published-port guard kept on this node (published-port-guard.ts), or null when the
   * operator manages the firewall (PAASTECH_SWARM_PORT_GUARD=off).
   */
  guard?: { iptables: IptablesRunner; portRange?: () => [number, number]; intervalMs?: number } | null;
  /** The swarm node id of this machine: with the guard on, egress-off tasks run here (egress-guard.ts). */
  nodeId?: string;
  /** host:port of the registry: with `images.nodeImage`, pruned images are deleted on every node. */
  registry?: string;
  /** The Docker socket path on the nodes, as the cleanup job mounts it (default: this daemon's). */
  nodeSocketPath?: string;
}

const TAIL_LINES = 30;
/** Extra time a rollout may take beyond the health timeout (image pulls, scheduling). */
const ROLLOUT_SLACK_MS = 60_000;
const ROLLBACK_STATES = new Set(['rollback_started', 'rollback_paused', 'rollback_completed', 'paused']);

/** A project being watched. */
interface Watch {
  hooks: OrchestratorHooks;
  last: string;
  /** Service id → its log stream. */
  logs: Map<string, Following | 'opening'>;
  /** Task id → source ("web.1") and deployment, for log lines. */
  taskInfo: Map<string, { source: string; deployment: number }>;
  since: number;
}

/** Runs a project's processes as Swarm services. */
export class SwarmRuntime implements Runtime {
  readonly kind = 'swarm';
  readonly orchestrator: Orchestrator;
  /** Builders only this runtime offers, tried before the default ones (index.ts). */
  readonly builders: Builder[];
  private readonly docker: DockerClient;
  private readonly watches = new Map<string, Watch>();
  private nodes: { at: number; byId: Map<string, SwarmNode> } = { at: 0, byId: new Map() };
  private timer: NodeJS.Timeout | undefined;
  private polling: Promise<void> | undefined;
  private readonly cpu = new Map<string, { at: number; nanos: number }>();
  private guard: GuardKeeper | undefined;
  private egress: EgressKeeper | undefined;
  private readonly nodeCleanup: NodeImageCleanup | null;

  constructor(private readonly o: SwarmRuntimeOptions) {
    this.docker = o.docker;
    this.builders = o.builders ?? [];
    const nodeImage = o.images.nodeImage?.bind(o.images);
    this.nodeCleanup =
      nodeImage && o.registry
        ? new NodeImageCleanup({
            docker: o.docker,
            registry: o.registry,
            image: nodeImage,
            nodeSocketPath: o.nodeSocketPath ?? o.docker.socketPath,
            namespace: o.namespace,
            logger: o.logger,
          })
        : null;
    this.orchestrator = {
      prepare: (d, signal, onLine) => this.o.images.ensure(d, signal, onLine),
      rollOut: (d, signal) => this.rollOut(d, signal),
      attach: (projectId, hooks) => this.attach(projectId, hooks),
      detach: (projectId) => this.detach(projectId),
      pruneImages: (projectId, keep) => this.pruneImages(projectId, keep),
      usage: (projectId) => this.usage(projectId),
    };
  }

  // ---- the process-level Runtime: builds and release commands on this machine ----

  run(spec: ProcessSpec, onLine: (text: string) => void): Promise<RunningProcess> {
    return this.o.local.run(spec, onLine);
  }

  allocatePort(projectId: string): Promise<number> {
    return this.o.local.allocatePort(projectId);
  }

  upstreamAddress(projectId: string, port: number): string {
    return this.o.local.upstreamAddress(projectId, port);
  }

  /** Leftover build processes of this machine; Swarm's services are not leftovers (re-attached). */
  cleanupLeftovers(): Promise<number> {
    return this.o.local.cleanupLeftovers();
  }

  /** Removes the project's services, network and images, then what the local runtime keeps. */
  async forgetProject(projectId: string): Promise<void> {
    this.detach(projectId);
    const filter = projectFilter(this.o.namespace, projectId);
    for (const s of await this.docker.listServices(filter)) await this.docker.removeService(s.ID);
    await this.removeNetwork(projectId);
    await this.pruneImages(projectId, []);
    await this.o.local.forgetProject(projectId);
  }

  async setEgress(projectId: string, on: boolean): Promise<void> {
    // Builds run locally and honour the setting at once; tasks at the next deployment (placed on
    // this node and labelled, egress-guard.ts; docs/swarm.md "Egress of tasks").
    await this.o.local.setEgress?.(projectId, on);
  }

  /** Installs the published-port guard on this node and keeps it in step with the swarm's nodes. */
  async start(): Promise<void> {
    const g = this.o.guard;
    if (!g || this.guard) return;
    this.guard = new GuardKeeper({
      iptables: g.iptables,
      nodes: async () => [...(await this.nodeMap()).values()],
      portRange: g.portRange ?? (() => readPortRange()),
      logger: this.o.logger,
      ...(g.intervalMs ? { intervalMs: g.intervalMs } : {}),
    });
    await this.guard.start();
    if (!this.o.nodeId) return;
    this.egress = new EgressKeeper({ iptables: g.iptables, docker: this.docker, logger: this.o.logger });
    await this.egress.start();
  }

  /** Stops polling, following logs and checking the guard; services (and the guard's rules) stay. */
  close(): void {
    for (const id of [...this.watches.keys()]) this.detach(id);
    this.guard?.close();
    this.egress?.close();
  }

  // ---- rollouts ----

  private async rollOut(d: DesiredDeployment, signal?: AbortSignal): Promise<void> {
    const ns = this.o.namespace;
    const network = await this.ensureNetwork(d.projectId);
    const image = this.o.images.ref(d.projectId, d.buildNumber);
    const existing = await this.docker.listServices(projectFilter(ns, d.projectId));
    const startedAt = Date.now();
    const changed: { type: string; service: Service | null }[] = [];
    for (const type of Object.keys(d.processes).sort()) {
      const current = existing.find((s) => s.Spec.Name === serviceName(ns, d.projectId, type)) ?? null;
      const force =
        (current?.Spec.TaskTemplate.ForceUpdate ?? 0) + (d.restart.includes(type) && current ? 1 : 0);
      const spec = serviceSpec(d, {
        namespace: ns,
        processType: type,
        image,
        network,
        forceUpdate: force,
        ...(this.egress && this.o.nodeId ? { egressNode: this.o.nodeId } : {}),
      });
      if (!current) {
        await this.docker.createService(spec);
        changed.push({ type, service: null });
      } else if (!sameSpec(current.Spec, spec)) {
        await this.docker.updateService(current.ID, current.Version.Index, spec);
        changed.push({ type, service: current });
      }
    }
    try {
      await this.waitLive(d, startedAt, signal);
    } catch (err) {
      await this.undo(d, changed);
      await this.refresh(d.projectId);
      throw err;
    }
    // Process types the deployment no longer declares.
    for (const s of existing) {
      const type = s.Spec.Labels?.[LABEL.process] ?? '';
      if (!(type in d.processes)) await this.docker.removeService(s.ID);
    }
    await this.refresh(d.projectId);
  }

  /** Waits until every process type runs its formation of `d`, web tasks answering the router. */
  private async waitLive(d: DesiredDeployment, since: number, signal?: AbortSignal): Promise<void> {
    const deadline = since + d.healthTimeoutSeconds * 1000 + ROLLOUT_SLACK_MS;
    const probed = new Set<string>();
    for (;;) {
      if (signal?.aborted)
        throw new RolloutFailedError({ reason: 'internal', message: 'cancelled', tail: [] });
      const [services, tasks] = await Promise.all([
        this.docker.listServices(projectFilter(this.o.namespace, d.projectId)),
        this.docker.listTasks(projectFilter(this.o.namespace, d.projectId)),
      ]);
      const nodes = await this.nodeMap(tasks);
      const ours = tasks.filter((t) => isOf(t, d, services));
      let live = true;
      for (const type of Object.keys(d.processes)) {
        const want = d.formation[type] ?? 0;
        const service = services.find((s) => s.Spec.Labels?.[LABEL.process] === type);
        const update = service?.UpdateStatus;
        if (
          update &&
          ROLLBACK_STATES.has(update.State) &&
          Date.parse(update.StartedAt ?? '') >= since - 1000
        ) {
          throw new RolloutFailedError(await this.failure(d, type, ours, update.Message ?? update.State));
        }
        const failed = ours.find(
          (t) =>
            typeOf(t) === type && ['failed', 'rejected'].includes(t.Status.State) && t.Slot !== undefined,
        );
        // A first deployment has nothing to roll back to: Swarm would restart it forever.
        if (failed && !service?.PreviousSpec) {
          throw new RolloutFailedError(await this.failure(d, type, ours, failed.Status.Err ?? ''));
        }
        const running = ours.filter(
          (t) => typeOf(t) === type && t.Status.State === 'running' && t.DesiredState === 'running',
        );
        if (running.length < want) {
          live = false;
          continue;
        }
        if (type !== 'web') continue;
        for (const t of running) {
          if (probed.has(t.ID)) continue;
          const address = addressOf(t, nodes);
          if (!address) {
            live = false;
            continue;
          }
          const r = await probe(address, d.healthPath || '/');
          if (r.ok) probed.add(t.ID);
          else live = false;
        }
      }
      if (live) return;
      if (Date.now() > deadline) {
        const type = Object.keys(d.processes).find((t) => (d.formation[t] ?? 0) > 0) ?? 'web';
        throw new RolloutFailedError(await this.failure(d, type, ours, ''));
      }
      await sleep(100);
    }
  }

  /** Puts services back as they were before a failed rollout (or scales new ones to 0). */
  private async undo(
    d: DesiredDeployment,
    changed: { type: string; service: Service | null }[],
  ): Promise<void> {
    for (const c of changed) {
      const name = serviceName(this.o.namespace, d.projectId, c.type);
      try {
        const now = await this.docker.inspectService(name);
        if (!now) continue;
        if (!c.service) {
          // Nothing to roll back to: no instance of a failed first deployment keeps running.
          await this.docker.removeService(now.ID);
          continue;
        }
        const state = now.UpdateStatus?.State ?? '';
        if (state.startsWith('rollback')) continue;
        await this.docker.updateService(now.ID, now.Version.Index, c.service.Spec);
      } catch (err) {
        this.o.logger.error({ err, projectId: d.projectId, service: name }, 'could not roll a service back');
      }
    }
  }

  /** The diagnosis of a rollout that did not become live, with the last lines of the task to blame. */
  private async failure(
    d: DesiredDeployment,
    type: string,
    tasks: Task[],
    message: string,
  ): Promise<RolloutFailure> {
    const ofType = tasks
      .filter((t) => typeOf(t) === type)
      .sort((a, b) => Date.parse(b.UpdatedAt) - Date.parse(a.UpdatedAt));
    const task = ofType.find((t) => ['failed', 'rejected'].includes(t.Status.State)) ?? ofType[0];
    const instance = `${type}.${task?.Slot ?? 1}`;
    const tail = task ? await this.docker.taskTail(task.ID, TAIL_LINES) : [];
    if (!task) {
      return {
        reason: 'internal',
        message: `${instance} was never scheduled: ${message || 'no task'}`,
        tail,
      };
    }
    const err = task.Status.Err ?? message;
    if (task.Status.State === 'rejected' || /No such image|pull access|manifest/.test(err)) {
      return { reason: 'internal', message: `${instance} could not start: ${err}`, instance, tail };
    }
    const container = task.Status.ContainerStatus?.ContainerID;
    const inspect = container
      ? await this.docker
          .find<ContainerInspect>(`/containers/${encodeURIComponent(container)}/json`)
          .catch(() => null)
      : null;
    const timeoutSeconds = d.healthTimeoutSeconds;
    const memoryLimitBytes = d.limits.memoryBytes;
    if (/unhealthy/.test(err) || (!err && task.Status.State !== 'failed')) {
      const log = inspect?.State?.Health?.Log ?? [];
      const out = parseHealthOutput(log.map((l) => l.Output ?? '').join('\n'));
      const diagnosis = diagnose({
        instance,
        port: WEB_PORT,
        memoryLimitBytes,
        listening: out?.listening ?? [],
        timeoutSeconds,
        ...(out ? { lastProbe: out.detail } : {}),
      });
      return { ...diagnosis, instance, tail };
    }
    const code = task.Status.ContainerStatus?.ExitCode ?? exitCodeOf(err);
    const diagnosis = diagnose({
      instance,
      port: WEB_PORT,
      exit: {
        code: code ?? null,
        signal: code === null ? 'SIGKILL' : null,
        oomKilled: inspect?.State?.OOMKilled === true,
      },
      memoryLimitBytes,
      listening: [],
      timeoutSeconds,
    });
    return { ...diagnosis, instance, tail };
  }

  /** The project's overlay network (created on first use); returns its id. */
  private async ensureNetwork(projectId: string): Promise<string> {
    const name = networkName(this.o.namespace, projectId);
    const found = await this.docker.inspectNetwork(name);
    if (found) return found.Id;
    try {
      return await this.docker.createNetwork({
        Name: name,
        Driver: 'overlay',
        Attachable: false,
        Labels: projectLabels(this.o.namespace, projectId),
      });
    } catch (err) {
      // Created meanwhile by a concurrent rollout of the same name.
      const again = await this.docker.inspectNetwork(name);
      if (again) return again.Id;
      throw err;
    }
  }

  private async removeNetwork(projectId: string): Promise<void> {
    // Tasks leave the network asynchronously after their service is removed.
    for (let i = 0; i < 40; i++) {
      try {
        await this.docker.removeNetwork(networkName(this.o.namespace, projectId));
        return;
      } catch (err) {
        if (!(err instanceof DockerError) || err.status !== 403) throw err;
        await sleep(250);
      }
    }
  }

  private async pruneImages(projectId: string, keep: number[]): Promise<void> {
    const used = new Set(keep);
    for (const s of await this.docker.listServices(projectFilter(this.o.namespace, projectId))) {
      used.add(Number(s.Spec.Labels?.[LABEL.build] ?? 0));
      const prev = s.PreviousSpec?.Labels?.[LABEL.build];
      if (prev) used.add(Number(prev));
    }
    const removed: string[] = [];
    for (const n of await this.o.images.list(projectId)) {
      if (used.has(n)) continue;
      try {
        await this.o.images.remove(projectId, n);
        removed.push(this.o.images.ref(projectId, n));
      } catch (err) {
        this.o.logger.warn({ err, projectId, build: n }, 'could not delete an image');
      }
    }
    // The other nodes' copies: a background job (node-image-cleanup.ts), never awaited here.
    this.nodeCleanup?.enqueue(projectId, removed);
  }

  /** Resolves once the queued deletions of images on the other nodes have finished. */
  imageCleanupIdle(): Promise<void> {
    return this.nodeCleanup?.idle() ?? Promise.resolve();
  }

  // ---- watching: tasks, logs, usage ----

  private async attach(projectId: string, hooks: OrchestratorHooks): Promise<number | null> {
    this.watches.set(projectId, {
      hooks,
      last: '',
      logs: new Map(),
      taskInfo: new Map(),
      since: Date.now() / 1000,
    });
    this.timer ??= setInterval(() => void this.pollAll(), this.o.pollMs ?? 500);
    this.timer.unref?.();
    await this.refresh(projectId);
    const services = await this.docker.listServices(projectFilter(this.o.namespace, projectId));
    const web = services.find((s) => s.Spec.Labels?.[LABEL.process] === 'web') ?? services[0];
    const n = Number(web?.Spec.Labels?.[LABEL.deployment] ?? 0);
    return n > 0 ? n : null;
  }

  private detach(projectId: string): void {
    const w = this.watches.get(projectId);
    if (!w) return;
    this.watches.delete(projectId);
    for (const f of w.logs.values()) if (f !== 'opening') f.close();
    if (this.watches.size === 0 && this.timer) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }

  /** One poll of every watched project (single-flight). */
  private pollAll(): Promise<void> {
    if (this.polling) return this.polling;
    const once = async () => {
      try {
        if (this.watches.size === 0) return;
        const tasks = await this.docker.listTasks(projectFilter(this.o.namespace));
        const byProject = new Map<string, Task[]>();
        for (const t of tasks) {
          const id = t.Spec.ContainerSpec.Labels?.[LABEL.project];
          if (!id) continue;
          const list = byProject.get(id) ?? [];
          list.push(t);
          byProject.set(id, list);
        }
        const nodes = await this.nodeMap(tasks);
        for (const id of this.watches.keys()) this.publish(id, byProject.get(id) ?? [], nodes);
      } catch (err) {
        this.o.logger.warn({ err }, 'swarm task poll failed');
      }
    };
    // Cleared once settled (asynchronously: never before the assignment below).
    this.polling = once().finally(() => {
      this.polling = undefined;
    });
    return this.polling;
  }

  /** Polls one project now and tells its hooks. */
  private async refresh(projectId: string): Promise<void> {
    if (!this.watches.has(projectId)) return;
    const tasks = await this.docker.listTasks(projectFilter(this.o.namespace, projectId));
    this.publish(projectId, tasks, await this.nodeMap(tasks));
  }

  private publish(projectId: string, tasks: Task[], nodes: Map<string, SwarmNode>): void {
    const w = this.watches.get(projectId);
    if (!w) return;
    for (const t of tasks) {
      const labels = t.Spec.ContainerSpec.Labels ?? {};
      if (t.Slot !== undefined)
        w.taskInfo.set(t.ID, {
          source: `${labels[LABEL.process] ?? '?'}.${t.Slot}`,
          deployment: Number(labels[LABEL.deployment] ?? 0),
        });
      if (t.DesiredState === 'running' && !w.logs.has(t.ServiceID))
        void this.followLogs(projectId, w, t.ServiceID);
    }
    const limit = tasks[0]?.Spec.Resources?.Limits?.MemoryBytes ?? 0;
    const statuses = taskStatuses(tasks, { nodes, memoryLimitBytes: limit });
    const key = JSON.stringify(statuses);
    if (key === w.last) return;
    w.last = key;
    w.hooks.onTasks(statuses);
  }

  /** Streams a service's output into the project log, one source per task ("web.1"). */
  private async followLogs(projectId: string, w: Watch, serviceId: string): Promise<void> {
    w.logs.set(serviceId, 'opening');
    try {
      const f = await this.docker.serviceLogs(
        serviceId,
        { follow: true, since: w.since, tail: 'all' },
        (l) => {
          const taskId = l.details['com.docker.swarm.task.id'] ?? '';
          const info = w.taskInfo.get(taskId);
          w.hooks.onLine(info?.source ?? 'app', l.text, info?.deployment ?? 0);
        },
      );
      if (this.watches.get(projectId) !== w) {
        f.close();
        return;
      }
      w.logs.set(serviceId, f);
      void f.done.then(() => {
        if (w.logs.get(serviceId) === f) w.logs.delete(serviceId);
      });
    } catch (err) {
      w.logs.delete(serviceId);
      this.o.logger.warn({ err, projectId, serviceId }, 'could not follow service logs');
    }
  }

  /** Memory and CPU of the project's running tasks that run on this node. */
  private async usage(
    projectId: string,
  ): Promise<Map<string, { memoryBytes: number; cpuMillicores: number }>> {
    const out = new Map<string, { memoryBytes: number; cpuMillicores: number }>();
    const tasks = await this.docker.listTasks({
      ...projectFilter(this.o.namespace, projectId),
      'desired-state': ['running'],
    });
    await Promise.all(
      tasks.map(async (t) => {
        const id = t.Status.ContainerStatus?.ContainerID;
        const type = t.Spec.ContainerSpec.Labels?.[LABEL.process];
        if (!id || !type || t.Status.State !== 'running') return;
        const u = await this.docker.containerUsage(id).catch(() => null);
        if (!u) return;
        const now = Date.now();
        const prev = this.cpu.get(id);
        this.cpu.set(id, { at: now, nanos: u.cpuNanos });
        const cpuMillicores =
          prev && now > prev.at
            ? Math.max(0, Math.round((u.cpuNanos - prev.nanos) / 1000 / (now - prev.at)))
            : 0;
        out.set(`${type}.${t.Slot}`, { memoryBytes: u.memoryBytes, cpuMillicores });
      }),
    );
    return out;
  }

  /** Nodes of the swarm by id (cached for 5 s, or until a task names a node not in the cache). */
  private async nodeMap(tasks: Task[] = []): Promise<Map<string, SwarmNode>> {
    const unknown = tasks.some((t) => t.NodeID && !this.nodes.byId.has(t.NodeID));
    if (unknown || Date.now() - this.nodes.at > 5000) {
      const list = await this.docker.listNodes();
      this.nodes = { at: Date.now(), byId: new Map(list.map((n) => [n.ID, n])) };
    }
    return this.nodes.byId;
  }
}

interface ContainerInspect {
  State?: { OOMKilled?: boolean; Health?: { Log?: { Output?: string }[] } };
}

/** The process type of a task. */
function typeOf(t: Task): string {
  return t.Spec.ContainerSpec.Labels?.[LABEL.process] ?? '';
}

/** True when a task runs deployment `d` as its services now ask (not a task of the previous spec). */
function isOf(t: Task, d: DesiredDeployment, services: Service[]): boolean {
  const labels = t.Spec.ContainerSpec.Labels ?? {};
  if (labels[LABEL.deployment] !== String(d.deploymentNumber)) return false;
  const service = services.find((s) => s.ID === t.ServiceID);
  return (t.Spec.ForceUpdate ?? 0) === (service?.Spec.TaskTemplate.ForceUpdate ?? 0);
}

/** "node address:published port" of a web task, or "" before it has one. */
function addressOf(t: Task, nodes: Map<string, SwarmNode>): string {
  const port = t.Status.PortStatus?.Ports?.find((p) => p.TargetPort === WEB_PORT)?.PublishedPort;
  const addr = t.NodeID ? nodes.get(t.NodeID)?.Status.Addr : undefined;
  return port && addr ? `${addr}:${port}` : '';
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
