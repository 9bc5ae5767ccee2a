// What a project's deployment looks like in Docker Swarm (pure functions, table-tested): one
// service per process type (replicas = formation), on an overlay network of the project's own,
// web tasks publishing their port in host mode (the router reaches <node address>:<published port>;
// the ingress routing mesh needs IPVS, which these hosts lack). Invariants: config vars reach tasks
// only as environment (never an image layer); names are valid Docker names of at most 63
// characters, the same for the same project and process type; every object carries the labels
// that find it again after a platform restart.
import { createHash } from 'node:crypto';
import type { DesiredDeployment, TaskState, TaskStatus } from '../../domain/ports.js';
import { tmpSizeBytes } from '../../isolation/limits.js';
import type { ServiceSpec, SwarmNode, Task } from './docker.js';

/** The port web processes listen on inside their container (their $PORT). */
export const WEB_PORT = 5000;

/** Label keys on services, tasks, networks and images. */
export const LABEL = {
  namespace: 'paastech.namespace',
  project: 'paastech.project',
  process: 'paastech.process',
  deployment: 'paastech.deployment',
  build: 'paastech.build',
  /** `off` on the tasks of a project whose egress is off (egress-guard.ts finds them by it). */
  egress: 'paastech.egress',
} as const;

const NS = 1_000_000;
const SECOND = 1_000 * NS;
const MAX_NAME = 63;
const NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

/**
 * `<namespace>-<project>-<suffix>` when that is a valid name of at most 63 characters; otherwise a
 * shortened project id plus a hash of the whole id, so long ids stay distinct.
 */
function objectName(namespace: string, projectId: string, suffix: string): string {
  const plain = `${namespace}-${projectId}${suffix ? `-${suffix}` : ''}`;
  if (plain.length <= MAX_NAME && NAME.test(plain)) return plain;
  const hash = createHash('sha256').update(projectId).digest('hex').slice(0, 10);
  const room = MAX_NAME - namespace.length - hash.length - (suffix ? suffix.length + 1 : 0) - 2;
  const head = projectId.replace(/[^a-zA-Z0-9_.-]/g, '').slice(0, Math.max(0, room - 1));
  return `${namespace}-${head ? `${head}-` : ''}${hash}${suffix ? `-${suffix}` : ''}`;
}

/** The service of a process type of a project. */
export function serviceName(namespace: string, projectId: string, processType: string): string {
  return objectName(namespace, projectId, processType);
}

/** The project's own overlay network. */
export function networkName(namespace: string, projectId: string): string {
  return objectName(namespace, projectId, 'net');
}

/** Labels naming a project (the filter that finds its services, tasks and network). */
export function projectLabels(namespace: string, projectId: string): Record<string, string> {
  return { [LABEL.namespace]: namespace, [LABEL.project]: projectId };
}

/** Docker's `label=k=v` filters for a project's objects. */
export function projectFilter(namespace: string, projectId?: string): Record<string, string[]> {
  const label = [`${LABEL.namespace}=${namespace}`];
  if (projectId !== undefined) label.push(`${LABEL.project}=${projectId}`);
  return { label };
}

/**
 * The health check run inside each web container (node is in the base image): GET $PAASTECH_HEALTH_PATH
 * on the container's own non-loopback address and $PORT, as the router would reach it, so an app
 * bound to 127.0.0.1 fails as it does in the local runtime. Healthy: any status below 500, or a
 * connection that does not speak HTTP. Unhealthy: prints one JSON line {detail, listening} with the
 * container's listening TCP sockets (from /proc/net/tcp*), which becomes the push's diagnosis.
 */
export const HEALTH_SCRIPT = `
const http = require('http'), os = require('os'), fs = require('fs');
const port = Number(process.env.PORT), path = process.env.PAASTECH_HEALTH_PATH || '/';
const host = Object.values(os.networkInterfaces()).flat()
  .filter((a) => a && !a.internal && (a.family === 'IPv4' || a.family === 4)).map((a) => a.address)[0] || '127.0.0.1';
function listening() {
  const out = [];
  for (const f of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text = '';
    try { text = fs.readFileSync(f, 'utf8'); } catch { continue; }
    for (const line of text.split('\\n').slice(1)) {
      const c = line.trim().split(/\\s+/);
      if (c[3] !== '0A') continue;
      const [a, p] = c[1].split(':');
      let address;
      if (a.length === 8) address = [3, 2, 1, 0].map((i) => parseInt(a.slice(i * 2, i * 2 + 2), 16)).join('.');
      else if (a === '00000000000000000000000000000000') address = '::';
      else if (a === '0000000000000000FFFF00000100007F') address = '::ffff:127.0.0.1';
      else if (a === '00000000000000000000000001000000') address = '::1';
      else address = a;
      // Docker's embedded DNS resolver listens in every container; it is not the app.
      if (address !== '127.0.0.11') out.push({ address, port: parseInt(p, 16) });
    }
  }
  return out;
}
function fail(detail) {
  process.stdout.write(JSON.stringify({ detail, listening: listening() }) + '\\n');
  process.exit(1);
}
let connected = false;
const req = http.request({ host, port, path, method: 'GET', agent: false, timeout: 2000 }, (res) => {
  res.resume();
  if ((res.statusCode || 0) < 500) process.exit(0);
  fail('GET ' + path + ' answered ' + res.statusCode);
});
req.on('socket', (s) => s.on('connect', () => { connected = true; }));
req.on('timeout', () => req.destroy(new Error('timeout')));
req.on('error', (e) => {
  if (connected && e.code === 'HPE_INVALID_CONSTANT') process.exit(0);
  if (e.code === 'ECONNREFUSED') fail('nothing listens on port ' + port);
  if (e.message === 'timeout') fail('GET ' + path + ' got no answer within 2s');
  fail('GET ' + path + ' failed: ' + (e.code || e.message));
});
req.end();
`;

/**
 * The container's entrypoint around the process command: on SIGTERM (Swarm replacing or removing
 * the task) it keeps the process serving for $PAASTECH_DRAIN_SECONDS while the router moves traffic
 * away, then passes SIGTERM on; Swarm sends SIGKILL after the stop grace period. Exits with the
 * process's status.
 */
export const DRAIN_SHIM = [
  '/bin/sh -c "$1" & child=$!',
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a shell parameter expansion
  'trap \'sleep "${PAASTECH_DRAIN_SECONDS:-0}"; kill -TERM "$child" 2>/dev/null\' TERM INT',
  'wait "$child"; status=$?',
  'while kill -0 "$child" 2>/dev/null; do wait "$child"; status=$?; done',
  'exit "$status"',
].join('\n');

export interface ServiceSpecOptions {
  namespace: string;
  processType: string;
  /** Image reference every node pulls (`<registry>/<repo>:v<N>`). */
  image: string;
  /** Id or name of the project's overlay network. */
  network: string;
  /** Swarm's force-update counter: a change replaces every task (RestartProject). */
  forceUpdate: number;
  /** The node whose firewall enforces egress off (paastechd's own): an egress-off project's tasks
   * are placed there and labelled for it. Unset: the setting is not applied to tasks. */
  egressNode?: string;
}

/** The Swarm service of one process type of a deployment (pure). */
export function serviceSpec(d: DesiredDeployment, o: ServiceSpecOptions): ServiceSpec {
  const web = o.processType === 'web';
  const egressOff = d.egressDisabled && o.egressNode ? o.egressNode : undefined;
  const labels = {
    ...projectLabels(o.namespace, d.projectId),
    [LABEL.process]: o.processType,
    [LABEL.deployment]: String(d.deploymentNumber),
    [LABEL.build]: String(d.buildNumber),
    ...(egressOff ? { [LABEL.egress]: 'off' } : {}),
  };
  const env: Record<string, string> = {
    ...d.env,
    PAASTECH_DRAIN_SECONDS: String(d.drainSeconds),
    // Docker expands the template per task: web.1, web.2 … as in the local runtime.
    PAASTECH_INSTANCE: `${o.processType}.{{.Task.Slot}}`,
    ...(web ? { PORT: String(WEB_PORT), PAASTECH_HEALTH_PATH: d.healthPath || '/' } : {}),
  };
  const command = d.processes[o.processType] ?? '';
  // A private /tmp of the sandbox's size; the rest of the filesystem is read-only, as locally.
  const tmp = { Type: 'tmpfs' as const, Target: '/tmp', TmpfsOptions: { SizeBytes: tmpSizeBytes(d.limits) } };
  return {
    Name: serviceName(o.namespace, d.projectId, o.processType),
    Labels: labels,
    TaskTemplate: {
      ContainerSpec: {
        Image: o.image,
        Command: ['/bin/sh', '-c', DRAIN_SHIM, 'paastech-shim', command],
        Env: Object.entries(env)
          .sort(([a], [b]) => a.localeCompare(b))
          .map(([k, v]) => `${k}=${v}`),
        Dir: '/app',
        User: `${d.uid}:${d.uid}`,
        Labels: labels,
        ReadOnly: true,
        Mounts: [tmp],
        StopGracePeriod: (d.drainSeconds + d.stopGraceSeconds) * SECOND,
        StopSignal: 'SIGTERM',
        ...(web
          ? {
              Healthcheck: {
                Test: ['CMD', 'node', '-e', HEALTH_SCRIPT],
                Interval: SECOND,
                Timeout: 3 * SECOND,
                Retries: 3,
                StartPeriod: d.healthTimeoutSeconds * SECOND,
              },
            }
          : {}),
      },
      Resources: {
        Limits: {
          MemoryBytes: d.limits.memoryBytes,
          NanoCPUs: d.limits.cpuMillicores * 1_000_000,
          Pids: d.limits.maxProcesses,
        },
      },
      RestartPolicy: { Condition: 'any', Delay: SECOND, MaxAttempts: 0 },
      Networks: [{ Target: o.network, Aliases: [o.processType] }],
      ...(egressOff ? { Placement: { Constraints: [`node.id==${egressOff}`] } } : {}),
      ForceUpdate: o.forceUpdate,
    },
    Mode: { Replicated: { Replicas: d.formation[o.processType] ?? 0 } },
    UpdateConfig: {
      // All new tasks at once, beside the old ones (as the local runtime starts a deployment).
      Parallelism: 0,
      Delay: 0,
      FailureAction: 'rollback',
      Monitor: 5 * SECOND,
      MaxFailureRatio: 0,
      Order: 'start-first',
    },
    RollbackConfig: {
      Parallelism: 0,
      Delay: 0,
      FailureAction: 'pause',
      Monitor: 5 * SECOND,
      MaxFailureRatio: 0,
      Order: 'start-first',
    },
    EndpointSpec: {
      Mode: 'dnsrr',
      // Host mode, no published port: each task gets a free port of its node.
      Ports: web ? [{ Protocol: 'tcp', TargetPort: WEB_PORT, PublishMode: 'host' }] : [],
    },
  };
}

/** True when applying `desired` over `current` changes nothing Swarm would act on. */
export function sameSpec(current: ServiceSpec, desired: ServiceSpec): boolean {
  return canonical(current) === canonical(desired);
}

/** The parts of a spec that matter, in a stable form (Docker adds defaults to what it stores). */
function canonical(s: ServiceSpec): string {
  const c = s.TaskTemplate.ContainerSpec;
  return stableJson({
    name: s.Name,
    labels: s.Labels ?? {},
    image: c.Image,
    command: c.Command,
    env: [...(c.Env ?? [])].sort(),
    user: c.User,
    healthcheck: c.Healthcheck ?? null,
    limits: s.TaskTemplate.Resources?.Limits ?? null,
    force: s.TaskTemplate.ForceUpdate ?? 0,
    replicas: s.Mode?.Replicated?.Replicas ?? null,
    ports: (s.EndpointSpec?.Ports ?? []).map((p) => [p.TargetPort, p.PublishMode]),
    stop: c.StopGracePeriod ?? null,
  });
}

/** JSON with object keys sorted at every level (Docker returns a spec's keys in its own order). */
function stableJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stableJson).join(',')}]`;
  if (v && typeof v === 'object')
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${stableJson((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  return JSON.stringify(v ?? null);
}

/** Swarm task states grouped as the engine's instance states. */
const STARTING = new Set(['new', 'pending', 'assigned', 'accepted', 'preparing', 'ready', 'starting']);
const ENDED_BADLY = new Set(['failed', 'rejected', 'orphaned']);

/** The engine's state of a task (pure). */
export function taskState(t: Pick<Task, 'DesiredState' | 'Status'>): TaskState {
  const s = t.Status.State;
  const leaving = t.DesiredState !== 'running' && t.DesiredState !== 'ready';
  if (s === 'running') return leaving ? 'stopping' : 'running';
  if (ENDED_BADLY.has(s)) {
    return /unhealthy/.test(t.Status.Err ?? '') ? 'unhealthy' : 'crashed';
  }
  if (STARTING.has(s)) return leaving ? 'stopping' : 'starting';
  return 'stopped';
}

/** What the mapping of tasks needs to know about the swarm (pure input). */
export interface TaskContext {
  /** Node id → node (for its hostname and address). */
  nodes: Map<string, SwarmNode>;
  memoryLimitBytes: number;
}

/**
 * A project's current tasks as the engine's instances: per process type and slot the newest task
 * (the one running, else the last to change), with the number of earlier tasks of that slot and
 * deployment that ended as its restart count (pure).
 */
export function taskStatuses(tasks: Task[], ctx: TaskContext): TaskStatus[] {
  const bySlot = new Map<string, Task[]>();
  for (const t of tasks) {
    const type = t.Spec.ContainerSpec.Labels?.[LABEL.process] ?? '';
    const dep = t.Spec.ContainerSpec.Labels?.[LABEL.deployment] ?? '0';
    if (!type || t.Slot === undefined) continue;
    const key = `${type}.${t.Slot}.${dep}`;
    const list = bySlot.get(key) ?? [];
    list.push(t);
    bySlot.set(key, list);
  }
  const out: TaskStatus[] = [];
  for (const list of bySlot.values()) {
    list.sort((a, b) => Date.parse(b.UpdatedAt) - Date.parse(a.UpdatedAt));
    const live = list.filter((t) => t.DesiredState === 'running' || t.Status.State === 'running');
    const current = live[0] ?? (list[0] as Task);
    // A slot whose every task was shut down on purpose is history, not an instance.
    if (live.length === 0 && current.DesiredState === 'shutdown' && !ENDED_BADLY.has(current.Status.State))
      continue;
    if (live.length === 0 && current.DesiredState === 'remove') continue;
    const labels = current.Spec.ContainerSpec.Labels ?? {};
    const node = current.NodeID ? ctx.nodes.get(current.NodeID) : undefined;
    const state = taskState(current);
    const published = current.Status.PortStatus?.Ports?.find((p) => p.TargetPort === WEB_PORT);
    const address =
      (state === 'running' || state === 'stopping') && published && node?.Status.Addr
        ? `${node.Status.Addr}:${published.PublishedPort}`
        : '';
    const ended = list.filter((t) => t !== current && t.Status.State !== 'running');
    const lastEnded = ended.find((t) => t.Status.ContainerStatus?.ExitCode !== undefined);
    out.push({
      processType: labels[LABEL.process] ?? '',
      index: current.Slot ?? 0,
      deploymentNumber: Number(labels[LABEL.deployment] ?? 0),
      state,
      node: node?.Description.Hostname ?? current.NodeID ?? '',
      address,
      ...(state === 'running' || state === 'stopping'
        ? { startedAt: new Date(current.Status.Timestamp) }
        : {}),
      restartCount: ended.length,
      lastExitCode:
        current.Status.ContainerStatus?.ExitCode ?? lastEnded?.Status.ContainerStatus?.ExitCode ?? 0,
      message: current.Status.Err ?? '',
      memoryLimitBytes: ctx.memoryLimitBytes,
    });
  }
  return out.sort(
    (a, b) =>
      a.processType.localeCompare(b.processType) ||
      a.index - b.index ||
      a.deploymentNumber - b.deploymentNumber,
  );
}

/** Parses the health script's JSON line (from Docker's health log) when there is one. */
export function parseHealthOutput(
  output: string,
): { detail: string; listening: { address: string; port: number }[] } | null {
  for (const line of output.split('\n').reverse()) {
    try {
      const v = JSON.parse(line) as { detail?: unknown; listening?: unknown };
      if (typeof v.detail === 'string' && Array.isArray(v.listening)) {
        const listening = v.listening.filter(
          (s): s is { address: string; port: number } =>
            typeof s === 'object' &&
            s !== null &&
            typeof (s as { address?: unknown }).address === 'string' &&
            Number.isInteger((s as { port?: unknown }).port),
        );
        return { detail: v.detail, listening };
      }
    } catch {
      // not the script's line
    }
  }
  return null;
}

/** The exit code in a Swarm task error ("task: non-zero exit (3)"), or null (pure). */
export function exitCodeOf(err: string): number | null {
  const m = /non-zero exit \((\d+)\)/.exec(err);
  return m ? Number(m[1]) : null;
}
