// A typed client of the Docker Engine API over its Unix socket (node:http, no shell, no CLI).
// Invariant: every request names a path built from our own constants plus encodeURIComponent'd
// values, so a project name or an image tag can never reach another endpoint. Streamed endpoints
// (build, import, push, logs) report failures that arrive inside a 200 response as DockerError too.
import http from 'node:http';
import type { Readable } from 'node:stream';

/** The newest API version this client speaks; an older daemon is spoken to in its own version. */
export const MAX_API_VERSION = '1.41';

/** A failed Engine API call: the method, path, HTTP status and the daemon's message. */
export class DockerError extends Error {
  constructor(
    readonly method: string,
    readonly path: string,
    readonly status: number,
    detail: string,
    options?: { cause?: unknown },
  ) {
    super(`docker ${method} ${path}: ${status ? `${status} ` : ''}${detail}`, options);
    this.name = 'DockerError';
  }
}

/** Query values; arrays and objects are sent as JSON (the API's `filters` convention). */
export type Query = Record<string, string | number | boolean | undefined | Record<string, string | string[]>>;

interface RequestOptions {
  query?: Query;
  /** JSON body, or a stream sent as-is (a tar archive). */
  body?: unknown;
  headers?: Record<string, string>;
  /** Abort on this signal (long streams: logs, build). */
  signal?: AbortSignal;
}

/** One line of output of `docker service logs` (details=1, timestamps=1), demultiplexed. */
export interface ServiceLogLine {
  stream: 'stdout' | 'stderr';
  /** RFC 3339 timestamp given by the daemon. */
  time: string;
  /** Labels attached by the daemon: com.docker.swarm.task.id, …node.id, …service.id. */
  details: Record<string, string>;
  text: string;
}

/** A stream being read; `close()` stops it, `done` settles when it ended. */
export interface Following {
  done: Promise<void>;
  close(): void;
}

/** Compares dotted API versions ("1.41" < "1.43"). */
export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/** Turns a query object into a URL query string (pure). */
export function encodeQuery(query: Query = {}): string {
  const parts: string[] = [];
  for (const [k, v] of Object.entries(query)) {
    if (v === undefined) continue;
    const text = typeof v === 'object' ? JSON.stringify(v) : String(v);
    parts.push(`${encodeURIComponent(k)}=${encodeURIComponent(text)}`);
  }
  return parts.length ? `?${parts.join('&')}` : '';
}

/** Memory and CPU limits of the RUN steps of a build. */
export interface BuildResources {
  memoryBytes: number;
  cpuMillicores: number;
}

// The CFS period of the local sandbox (cgroups.ts): a short one keeps a CPU-hungry build from
// starving the manager's other work for long stretches.
const BUILD_CPU_PERIOD_US = 10_000;

/** The POST /build query of build limits (pure): memory without swap, CPU as a CFS quota. */
export function buildResourceQuery(r: BuildResources): Query {
  return {
    memory: r.memoryBytes,
    memswap: r.memoryBytes,
    cpuperiod: BUILD_CPU_PERIOD_US,
    cpuquota: Math.max(1000, Math.round((r.cpuMillicores * BUILD_CPU_PERIOD_US) / 1000)),
  };
}

/** Splits a JSON-lines progress stream (build, push, import) into parsed messages. */
export async function* jsonMessages(stream: Readable): AsyncGenerator<Record<string, unknown>> {
  let pending = '';
  for await (const chunk of stream) {
    pending += String(chunk);
    let nl = pending.indexOf('\n');
    while (nl >= 0) {
      const line = pending.slice(0, nl).trim();
      pending = pending.slice(nl + 1);
      if (line) yield JSON.parse(line) as Record<string, unknown>;
      nl = pending.indexOf('\n');
    }
  }
  if (pending.trim()) yield JSON.parse(pending) as Record<string, unknown>;
}

/**
 * Demultiplexes the 8-byte-header framing of a non-TTY log stream ([stream, 0, 0, 0, size32]) into
 * whole lines; returns a function to feed with chunks. Pure apart from calling `onLine`.
 */
export function logDemuxer(
  onLine: (stream: 'stdout' | 'stderr', line: string) => void,
): (chunk: Buffer) => void {
  let buf = Buffer.alloc(0);
  const partial = { stdout: '', stderr: '' };
  return (chunk) => {
    buf = Buffer.concat([buf, chunk]);
    while (buf.length >= 8) {
      const size = buf.readUInt32BE(4);
      if (buf.length < 8 + size) break;
      const stream = buf[0] === 2 ? 'stderr' : 'stdout';
      let text = partial[stream] + buf.subarray(8, 8 + size).toString('utf8');
      buf = buf.subarray(8 + size);
      let nl = text.indexOf('\n');
      while (nl >= 0) {
        onLine(stream, text.slice(0, nl).replace(/\r$/, ''));
        text = text.slice(nl + 1);
        nl = text.indexOf('\n');
      }
      partial[stream] = text;
    }
  };
}

/** Parses "2024-01-01T00:00:00.1Z k=v,k2=v2 text" (timestamps=1, details=1) (pure). */
export function parseServiceLogLine(line: string): Pick<ServiceLogLine, 'time' | 'details' | 'text'> {
  const sp = line.indexOf(' ');
  const time = sp < 0 ? line : line.slice(0, sp);
  let rest = sp < 0 ? '' : line.slice(sp + 1);
  const details: Record<string, string> = {};
  const sp2 = rest.indexOf(' ');
  const head = sp2 < 0 ? rest : rest.slice(0, sp2);
  if (/^[\w.]+=[^,\s]*(,[\w.]+=[^,\s]*)*$/.test(head)) {
    for (const pair of head.split(',')) {
      const eq = pair.indexOf('=');
      details[decodeURIComponent(pair.slice(0, eq))] = decodeURIComponent(pair.slice(eq + 1));
    }
    rest = sp2 < 0 ? '' : rest.slice(sp2 + 1);
  }
  return { time, details, text: rest };
}

/** The Engine API of one daemon, reached through its Unix socket. */
export class DockerClient {
  private version: Promise<string> | null = null;

  constructor(readonly socketPath: string) {}

  /** The API version both sides speak (negotiated once: the daemon's, capped at ours). */
  apiVersion(): Promise<string> {
    this.version ??= this.raw('GET', '/version', {}).then(async (res) => {
      const v = (JSON.parse(await readAll(res)) as { ApiVersion: string }).ApiVersion;
      return compareVersions(v, MAX_API_VERSION) < 0 ? v : MAX_API_VERSION;
    });
    this.version.catch(() => {
      this.version = null;
    });
    return this.version;
  }

  /** Sends one request (versioned path) and returns the response once its status is known. */
  async stream(method: string, path: string, o: RequestOptions = {}): Promise<http.IncomingMessage> {
    const res = await this.raw(method, `/v${await this.apiVersion()}${path}`, o);
    if (res.statusCode !== undefined && res.statusCode >= 400) {
      const text = await readAll(res);
      let detail = text.trim();
      try {
        detail = (JSON.parse(text) as { message?: string }).message ?? detail;
      } catch {
        // Not JSON: keep the text.
      }
      throw new DockerError(method, path, res.statusCode, detail);
    }
    return res;
  }

  /** Sends one request and parses its JSON answer (undefined for an empty body). */
  async call<T>(method: string, path: string, o: RequestOptions = {}): Promise<T> {
    const text = await readAll(await this.stream(method, path, o));
    return (text ? JSON.parse(text) : undefined) as T;
  }

  /** Like `call`, but null when the daemon answers 404. */
  async find<T>(path: string, query?: Query): Promise<T | null> {
    try {
      return await this.call<T>('GET', path, { query });
    } catch (err) {
      if (err instanceof DockerError && err.status === 404) return null;
      throw err;
    }
  }

  /** DELETE `path`: true when it was removed, false when the daemon answers 404 (not there). */
  private async remove(path: string, query?: Query): Promise<boolean> {
    try {
      await this.call('DELETE', path, { query });
      return true;
    } catch (err) {
      if (err instanceof DockerError && err.status === 404) return false;
      throw err;
    }
  }

  info(): Promise<DockerInfo> {
    return this.call('GET', '/info');
  }

  // --- images -------------------------------------------------------------------------------

  inspectImage(name: string): Promise<ImageInspect | null> {
    return this.find(`/images/${encodeURIComponent(name)}/json`);
  }

  /** `docker import`: a root filesystem tar stream becomes image `repo:tag`; returns its id. */
  async importImage(tar: Readable, repo: string, tag: string, changes: string[] = []): Promise<string> {
    const query: Query = { fromSrc: '-', repo, tag };
    const path = `/images/create${encodeQuery(query)}${changes.map((c) => `&changes=${encodeURIComponent(c)}`).join('')}`;
    const res = await this.stream('POST', path, {
      body: tar,
      headers: { 'Content-Type': 'application/x-tar' },
    });
    let id = '';
    await progress(res, 'POST', '/images/create', (m) => {
      if (typeof m.status === 'string' && /^sha256:/.test(m.status)) id = m.status;
    });
    return id;
  }

  /** `docker build` of a tar context; every output line goes to `onLine`; returns the image id. */
  async build(
    context: Readable,
    o: {
      tag: string;
      dockerfile?: string;
      labels?: Record<string, string>;
      /** Limits of every RUN step (absent: the daemon's defaults, i.e. none). */
      resources?: BuildResources;
      signal?: AbortSignal;
    },
    onLine: (text: string) => void,
  ): Promise<string> {
    const query: Query = {
      t: o.tag,
      dockerfile: o.dockerfile ?? 'Dockerfile',
      rm: 1,
      forcerm: 1,
      labels: o.labels,
      ...(o.resources ? buildResourceQuery(o.resources) : {}),
    };
    const res = await this.stream('POST', '/build', {
      query,
      body: context,
      headers: { 'Content-Type': 'application/x-tar' },
      signal: o.signal,
    });
    let id = '';
    let pending = '';
    await progress(res, 'POST', '/build', (m) => {
      if (typeof m.stream === 'string') {
        pending += m.stream;
        const lines = pending.split('\n');
        pending = lines.pop() ?? '';
        for (const l of lines) onLine(l.replace(/\r$/, ''));
      }
      const aux = m.aux as { ID?: string } | undefined;
      if (aux?.ID) id = aux.ID;
    });
    if (pending) onLine(pending);
    return id;
  }

  tagImage(source: string, repo: string, tag: string): Promise<void> {
    return this.call('POST', `/images/${encodeURIComponent(source)}/tag`, { query: { repo, tag } });
  }

  /** `docker push name:tag` (registries without auth); resolves with the pushed manifest digest. */
  async pushImage(name: string, tag: string): Promise<string> {
    const path = `/images/${encodeURIComponent(name)}/push`;
    const res = await this.stream('POST', path, {
      query: { tag },
      headers: { 'X-Registry-Auth': Buffer.from('{}').toString('base64') },
    });
    let digest = '';
    await progress(res, 'POST', path, (m) => {
      const aux = m.aux as { Digest?: string } | undefined;
      if (aux?.Digest) digest = aux.Digest;
    });
    return digest;
  }

  /** `docker rmi`; false when the image was not there. */
  removeImage(name: string, force = false): Promise<boolean> {
    return this.remove(`/images/${encodeURIComponent(name)}`, { force });
  }

  // --- swarm --------------------------------------------------------------------------------

  /** The swarm this manager belongs to (join tokens included); null when not a manager. */
  async inspectSwarm(): Promise<SwarmInspect | null> {
    try {
      return await this.call<SwarmInspect>('GET', '/swarm');
    } catch (err) {
      if (err instanceof DockerError && (err.status === 503 || err.status === 406)) return null;
      throw err;
    }
  }

  listNodes(filters?: Record<string, string[]>): Promise<SwarmNode[]> {
    return this.call('GET', '/nodes', { query: { filters } });
  }

  // --- services and tasks -------------------------------------------------------------------

  /** `docker service create`; returns the service id. */
  async createService(spec: ServiceSpec): Promise<string> {
    const r = await this.call<{ ID: string }>('POST', '/services/create', { body: spec });
    return r.ID;
  }

  inspectService(idOrName: string): Promise<Service | null> {
    return this.find(`/services/${encodeURIComponent(idOrName)}`);
  }

  listServices(filters?: Record<string, string[]>): Promise<Service[]> {
    return this.call('GET', '/services', { query: { filters } });
  }

  /** Replaces the spec of a service at `version` (optimistic concurrency: Version.Index). */
  async updateService(
    id: string,
    version: number,
    spec: ServiceSpec,
    o: { rollback?: boolean } = {},
  ): Promise<string[]> {
    const r = await this.call<{ Warnings?: string[] | null }>(
      'POST',
      `/services/${encodeURIComponent(id)}/update`,
      {
        query: { version, rollback: o.rollback ? 'previous' : undefined },
        body: spec,
      },
    );
    return r?.Warnings ?? [];
  }

  /** `docker service rm`; false when it was not there. */
  removeService(id: string): Promise<boolean> {
    return this.remove(`/services/${encodeURIComponent(id)}`);
  }

  listTasks(filters?: Record<string, string[]>): Promise<Task[]> {
    return this.call('GET', '/tasks', { query: { filters } });
  }

  /** The last `count` lines one task printed ([] when it has no logs: it never started). */
  async taskTail(taskId: string, count: number): Promise<string[]> {
    const lines: string[] = [];
    try {
      const res = await this.stream('GET', `/tasks/${encodeURIComponent(taskId)}/logs`, {
        query: { stdout: 1, stderr: 1, tail: count, follow: 0 },
      });
      const feed = logDemuxer((_s, line) => lines.push(line));
      for await (const chunk of res) feed(chunk as Buffer);
    } catch {
      // no logs (never started)
    }
    return lines.slice(-count);
  }

  /** Streams a service's logs line by line (`follow` keeps the stream open until `close()`). */
  async serviceLogs(
    id: string,
    o: { follow?: boolean; tail?: number | 'all'; since?: number },
    onLine: (line: ServiceLogLine) => void,
  ): Promise<Following> {
    const controller = new AbortController();
    const res = await this.stream('GET', `/services/${encodeURIComponent(id)}/logs`, {
      query: {
        stdout: 1,
        stderr: 1,
        timestamps: 1,
        details: 1,
        follow: o.follow ? 1 : 0,
        tail: o.tail ?? 'all',
        since: o.since,
      },
      signal: controller.signal,
    });
    const feed = logDemuxer((stream, line) => onLine({ stream, ...parseServiceLogLine(line) }));
    const done = new Promise<void>((resolve) => {
      res.on('data', feed);
      res.on('end', resolve);
      res.on('error', () => resolve());
      res.on('close', resolve);
    });
    return { done, close: () => controller.abort() };
  }

  // --- networks, containers -----------------------------------------------------------------

  /** Creates a network (overlay, attachable …); returns its id. */
  async createNetwork(spec: NetworkCreate): Promise<string> {
    const r = await this.call<{ Id: string }>('POST', '/networks/create', {
      body: { CheckDuplicate: true, ...spec },
    });
    return r.Id;
  }

  inspectNetwork(idOrName: string): Promise<NetworkSummary | null> {
    return this.find(`/networks/${encodeURIComponent(idOrName)}`);
  }

  /** Removes a network; false when it was not there. */
  removeNetwork(id: string): Promise<boolean> {
    return this.remove(`/networks/${encodeURIComponent(id)}`);
  }

  listContainers(filters?: Record<string, string[]>, all = false): Promise<ContainerSummary[]> {
    return this.call('GET', '/containers/json', { query: { all, filters } });
  }

  /** One sample of a container's resource use (memory bytes, cumulative CPU in nanoseconds). */
  async containerUsage(id: string): Promise<{ memoryBytes: number; cpuNanos: number } | null> {
    const s = await this.find<ContainerStats>(`/containers/${encodeURIComponent(id)}/stats`, {
      stream: false,
    });
    if (!s) return null;
    return { memoryBytes: s.memory_stats?.usage ?? 0, cpuNanos: s.cpu_stats?.cpu_usage?.total_usage ?? 0 };
  }

  // --- transport ----------------------------------------------------------------------------

  /** One HTTP exchange over the socket; resolves with the response (body unread). */
  private raw(method: string, path: string, o: RequestOptions): Promise<http.IncomingMessage> {
    return new Promise((resolve, reject) => {
      const isStream = o.body !== undefined && typeof (o.body as Readable).pipe === 'function';
      const json = o.body !== undefined && !isStream ? JSON.stringify(o.body) : undefined;
      const fullPath = path.includes('?') ? path : `${path}${encodeQuery(o.query)}`;
      const req = http.request({
        socketPath: this.socketPath,
        method,
        path: fullPath,
        headers: {
          Host: 'docker',
          ...(json !== undefined ? { 'Content-Type': 'application/json' } : {}),
          ...o.headers,
        },
        signal: o.signal,
      });
      req.on('response', resolve);
      req.on('error', (e) => reject(new DockerError(method, path, 0, e.message, { cause: e })));
      if (isStream) {
        const body = o.body as Readable;
        body.on('error', (e) => req.destroy(e));
        body.pipe(req);
      } else req.end(json);
    });
  }
}

/** Reads a whole response body as text. */
async function readAll(res: http.IncomingMessage): Promise<string> {
  const parts: Buffer[] = [];
  for await (const chunk of res) parts.push(chunk as Buffer);
  return Buffer.concat(parts).toString('utf8');
}

/** Reads a JSON progress stream to its end; an `error` message in it becomes a DockerError. */
async function progress(
  res: http.IncomingMessage,
  method: string,
  path: string,
  onMessage: (m: Record<string, unknown>) => void,
): Promise<void> {
  for await (const m of jsonMessages(res)) {
    if (m.error !== undefined || m.errorDetail !== undefined) {
      const detail = (m.errorDetail as { message?: string } | undefined)?.message ?? String(m.error);
      res.destroy();
      throw new DockerError(method, path, 0, detail);
    }
    onMessage(m);
  }
}

// --- the subset of the API's types this platform reads or writes --------------------------------

export interface DockerInfo {
  ID: string;
  Name: string;
  ServerVersion: string;
  Swarm: { NodeID: string; LocalNodeState: string; ControlAvailable: boolean; NodeAddr: string };
}

export interface ImageInspect {
  Id: string;
  RepoTags: string[] | null;
  RepoDigests: string[] | null;
  Size: number;
  Config: {
    Labels?: Record<string, string> | null;
    Cmd?: string[] | null;
    Entrypoint?: string[] | null;
    Env?: string[] | null;
    WorkingDir?: string;
  };
}

export interface SwarmInspect {
  ID: string;
  JoinTokens: { Worker: string; Manager: string };
}

export interface SwarmNode {
  ID: string;
  Spec: { Role: 'manager' | 'worker'; Availability: string; Labels?: Record<string, string> };
  Description: { Hostname: string };
  Status: { State: string; Addr: string };
  ManagerStatus?: { Leader?: boolean; Reachability: string; Addr: string };
}

/** A service spec (only the fields the platform sets are typed; the API accepts the rest). */
export interface ServiceSpec {
  Name: string;
  Labels?: Record<string, string>;
  TaskTemplate: {
    ContainerSpec: {
      Image: string;
      Command?: string[];
      Args?: string[];
      Env?: string[];
      Dir?: string;
      User?: string;
      Labels?: Record<string, string>;
      Mounts?: { Type: 'bind' | 'volume' | 'tmpfs'; Source?: string; Target: string; ReadOnly?: boolean }[];
      Healthcheck?: {
        Test: string[];
        Interval?: number;
        Timeout?: number;
        Retries?: number;
        StartPeriod?: number;
      };
      StopGracePeriod?: number;
      Init?: boolean;
      [key: string]: unknown;
    };
    Resources?: { Limits?: { NanoCPUs?: number; MemoryBytes?: number; Pids?: number } };
    RestartPolicy?: {
      Condition: 'none' | 'on-failure' | 'any';
      Delay?: number;
      MaxAttempts?: number;
      Window?: number;
    };
    Placement?: { Constraints?: string[]; MaxReplicas?: number };
    Networks?: { Target: string; Aliases?: string[] }[];
    ForceUpdate?: number;
    [key: string]: unknown;
  };
  Mode?: { Replicated?: { Replicas: number }; Global?: object; GlobalJob?: object; ReplicatedJob?: object };
  UpdateConfig?: UpdateConfig;
  RollbackConfig?: UpdateConfig;
  EndpointSpec?: {
    Mode?: 'vip' | 'dnsrr';
    Ports?: {
      Protocol?: 'tcp' | 'udp';
      TargetPort: number;
      PublishedPort?: number;
      PublishMode?: 'ingress' | 'host';
    }[];
  };
  [key: string]: unknown;
}

export interface UpdateConfig {
  Parallelism?: number;
  Delay?: number;
  FailureAction?: 'continue' | 'pause' | 'rollback';
  Monitor?: number;
  MaxFailureRatio?: number;
  Order?: 'stop-first' | 'start-first';
}

export interface Service {
  ID: string;
  Version: { Index: number };
  Spec: ServiceSpec;
  PreviousSpec?: ServiceSpec;
  UpdateStatus?: { State: string; StartedAt?: string; CompletedAt?: string; Message?: string };
  Endpoint?: { Ports?: { TargetPort: number; PublishedPort: number; PublishMode: string }[] };
}

export interface Task {
  ID: string;
  ServiceID: string;
  NodeID?: string;
  Slot?: number;
  Version: { Index: number };
  Labels?: Record<string, string>;
  Spec: ServiceSpec['TaskTemplate'];
  DesiredState: string;
  CreatedAt: string;
  UpdatedAt: string;
  Status: {
    Timestamp: string;
    State: string;
    Message: string;
    Err?: string;
    ContainerStatus?: { ContainerID?: string; PID?: number; ExitCode?: number };
    PortStatus?: { Ports?: { TargetPort: number; PublishedPort: number; PublishMode: string }[] };
  };
}

export interface NetworkCreate {
  Name: string;
  Driver?: string;
  Attachable?: boolean;
  Internal?: boolean;
  Labels?: Record<string, string>;
  IPAM?: { Config?: { Subnet?: string; Gateway?: string }[] };
  Options?: Record<string, string>;
}

export interface NetworkSummary {
  Id: string;
  Name: string;
  Driver: string;
  Scope: string;
  Labels?: Record<string, string> | null;
}

export interface ContainerSummary {
  Id: string;
  Names: string[];
  Image: string;
  State: string;
  Labels: Record<string, string>;
}

interface ContainerStats {
  memory_stats?: { usage?: number };
  cpu_stats?: { cpu_usage?: { total_usage?: number } };
}
