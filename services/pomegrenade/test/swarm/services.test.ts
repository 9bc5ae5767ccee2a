// Service specs of the swarm runtime (pure functions, no Docker): names, what a deployment becomes,
// how tasks read back as instances, and the in-container health check run against real servers.
import { spawn } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import { afterEach, describe, expect, it } from 'vitest';
import type { DesiredDeployment } from '../../src/domain/ports.js';
import type { SwarmNode, Task } from '../../src/runtime/swarm/docker.js';
import {
  DRAIN_SHIM,
  exitCodeOf,
  HEALTH_SCRIPT,
  LABEL,
  networkName,
  parseHealthOutput,
  sameSpec,
  serviceName,
  serviceSpec,
  taskState,
  taskStatuses,
  WEB_PORT,
} from '../../src/runtime/swarm/services.js';
import { desiredDeployment } from './swarm-support.js';

const NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

const desired = desiredDeployment;

const opts = { namespace: 'pt', image: '127.0.0.1:5000/p1:v2', network: 'netid', forceUpdate: 0 };

describe('names', () => {
  it.each([
    ['p1', 'web', 'pt-p1-web'],
    ['Proj_2', 'worker', 'pt-Proj_2-worker'],
    ['a'.repeat(64), 'web', null],
    ['x-'.repeat(31), 'clock-tick-every-minute-xyz', null],
  ])('service of %s/%s', (project, type, want) => {
    const name = serviceName('pt', project, type);
    if (want) expect(name).toBe(want);
    expect(name.length).toBeLessThanOrEqual(63);
    expect(name).toMatch(NAME);
    expect(name.endsWith(`-${type}`)).toBe(true);
  });

  it('keeps long ids that share a prefix apart, and is stable', () => {
    const a = serviceName('pt', `${'a'.repeat(60)}1`, 'web');
    const b = serviceName('pt', `${'a'.repeat(60)}2`, 'web');
    expect(a).not.toBe(b);
    expect(serviceName('pt', `${'a'.repeat(60)}1`, 'web')).toBe(a);
    expect(networkName('pt', 'p1')).toBe('pt-p1-net');
    expect(networkName('pt', 'p1')).not.toBe(serviceName('pt', 'p1', 'web'));
  });
});

describe('serviceSpec', () => {
  it('makes a web service: replicas, limits, env (never the image), labels, health, update policy, host port', () => {
    const s = serviceSpec(desired(), { ...opts, processType: 'web' });
    const c = s.TaskTemplate.ContainerSpec;
    expect(s.Name).toBe('pt-p1-web');
    expect(s.Mode).toEqual({ Replicated: { Replicas: 2 } });
    expect(c.Image).toBe('127.0.0.1:5000/p1:v2');
    expect(c.Env).toContain('SECRET=hunter2-value');
    expect(c.Env).toContain(`PORT=${WEB_PORT}`);
    expect(c.Env).toContain('PAASTECH_INSTANCE=web.{{.Task.Slot}}');
    expect(c.Env).toContain('PAASTECH_HEALTH_PATH=/healthz');
    expect(c.Env).toContain('PAASTECH_DRAIN_SECONDS=5');
    expect(c.Command).toEqual(['/bin/sh', '-c', DRAIN_SHIM, 'paastech-shim', 'node server.js']);
    expect(c.User).toBe('200001:200001');
    expect(c.Labels).toMatchObject({
      [LABEL.project]: 'p1',
      [LABEL.process]: 'web',
      [LABEL.deployment]: '3',
      [LABEL.build]: '2',
      [LABEL.namespace]: 'pt',
    });
    expect(c.Healthcheck?.Test.slice(0, 3)).toEqual(['CMD', 'node', '-e']);
    expect(c.Healthcheck?.StartPeriod).toBe(30e9);
    expect(c.StopGracePeriod).toBe(15e9);
    expect(s.TaskTemplate.Resources?.Limits).toEqual({
      MemoryBytes: 256 * 1024 * 1024,
      NanoCPUs: 500e6,
      Pids: 64,
    });
    expect(s.TaskTemplate.RestartPolicy?.Condition).toBe('any');
    expect(s.TaskTemplate.Networks).toEqual([{ Target: 'netid', Aliases: ['web'] }]);
    expect(s.UpdateConfig).toMatchObject({ Order: 'start-first', FailureAction: 'rollback', Parallelism: 0 });
    expect(s.UpdateConfig?.Monitor).toBeGreaterThan(0);
    expect(s.RollbackConfig).toMatchObject({ Order: 'start-first' });
    expect(s.EndpointSpec?.Ports).toEqual([{ Protocol: 'tcp', TargetPort: WEB_PORT, PublishMode: 'host' }]);
  });

  it('makes a worker without port, health check or PORT', () => {
    const s = serviceSpec(desired(), { ...opts, processType: 'worker' });
    expect(s.Mode).toEqual({ Replicated: { Replicas: 0 } });
    expect(s.EndpointSpec?.Ports).toEqual([]);
    expect(s.TaskTemplate.ContainerSpec.Healthcheck).toBeUndefined();
    expect(s.TaskTemplate.ContainerSpec.Env?.some((e) => e.startsWith('PORT='))).toBe(false);
  });

  it.each([
    ['nothing changed', {}, {}, true],
    ['replicas', { formation: { web: 3, worker: 0 } }, {}, false],
    [
      'a config var',
      { env: { PATH: '/usr/bin:/bin', SECRET: 'other', PAASTECH_DEPLOYMENT: 'v3' } },
      {},
      false,
    ],
    ['a restart', {}, { forceUpdate: 1 }, false],
    ['the image', {}, { image: '127.0.0.1:5000/p1:v4' }, false],
  ])('sameSpec: %s', (_what, over, o, same) => {
    const a = serviceSpec(desired(), { ...opts, processType: 'web' });
    const b = serviceSpec(desired(over as Partial<DesiredDeployment>), { ...opts, ...o, processType: 'web' });
    expect(sameSpec(a, b)).toBe(same);
  });

  it('sameSpec ignores what Docker adds and env order', () => {
    const a = serviceSpec(desired(), { ...opts, processType: 'web' });
    const stored = structuredClone(a);
    stored.TaskTemplate.ContainerSpec.Env = [...(a.TaskTemplate.ContainerSpec.Env ?? [])].reverse();
    stored.TaskTemplate.ContainerSpec.Isolation = 'default';
    const hc = a.TaskTemplate.ContainerSpec.Healthcheck ?? { Test: [] };
    stored.TaskTemplate.ContainerSpec.Healthcheck = Object.fromEntries(
      Object.entries(hc).reverse(),
    ) as typeof hc;
    (stored.TaskTemplate as Record<string, unknown>).Runtime = 'container';
    expect(sameSpec(stored, a)).toBe(true);
  });
});

function task(over: Partial<Task> & { type?: string; dep?: number; slot?: number } = {}): Task {
  const { type = 'web', dep = 3, slot = 1, ...rest } = over;
  return {
    ID: `t-${Math.random().toString(36).slice(2)}`,
    ServiceID: 's1',
    NodeID: 'n1',
    Slot: slot,
    Version: { Index: 1 },
    Spec: {
      ContainerSpec: { Image: 'x', Labels: { [LABEL.process]: type, [LABEL.deployment]: String(dep) } },
    },
    DesiredState: 'running',
    CreatedAt: '2026-01-01T00:00:00Z',
    UpdatedAt: '2026-01-01T00:00:10Z',
    Status: {
      Timestamp: '2026-01-01T00:00:10Z',
      State: 'running',
      Message: 'started',
      PortStatus: { Ports: [{ TargetPort: WEB_PORT, PublishedPort: 30001, PublishMode: 'host' }] },
    },
    ...rest,
  };
}

const nodes = new Map<string, SwarmNode>([
  [
    'n1',
    {
      ID: 'n1',
      Spec: { Role: 'manager', Availability: 'active' },
      Description: { Hostname: 'mgr' },
      Status: { State: 'ready', Addr: '10.0.0.2' },
    },
  ],
]);

describe('tasks as instances', () => {
  it.each([
    ['running', 'running', '', 'running'],
    ['running', 'shutdown', '', 'stopping'],
    ['starting', 'running', '', 'starting'],
    ['preparing', 'running', '', 'starting'],
    ['failed', 'shutdown', 'task: non-zero exit (137): dockerexec: unhealthy container', 'unhealthy'],
    ['failed', 'shutdown', 'task: non-zero exit (3)', 'crashed'],
    ['rejected', 'shutdown', 'No such image', 'crashed'],
    ['shutdown', 'shutdown', '', 'stopped'],
    ['complete', 'shutdown', '', 'stopped'],
  ])('%s (desired %s, %s) is %s', (state, desiredState, err, want) => {
    expect(
      taskState({
        DesiredState: desiredState,
        Status: { Timestamp: '', State: state, Message: '', Err: err },
      }),
    ).toBe(want);
  });

  it('maps the live task per slot with its address, restarts and node; drops history', () => {
    const tasks: Task[] = [
      task({ ID: 'a', slot: 1 }),
      task({
        ID: 'a-old',
        slot: 1,
        DesiredState: 'shutdown',
        UpdatedAt: '2026-01-01T00:00:05Z',
        Status: {
          Timestamp: '',
          State: 'failed',
          Message: '',
          Err: 'task: non-zero exit (2)',
          ContainerStatus: { ExitCode: 2 },
        },
      }),
      task({
        ID: 'b',
        slot: 2,
        Status: { Timestamp: '2026-01-01T00:00:10Z', State: 'starting', Message: '' },
      }),
      task({
        ID: 'old-dep',
        slot: 1,
        dep: 2,
        DesiredState: 'shutdown',
        Status: { Timestamp: '', State: 'shutdown', Message: '' },
      }),
      task({
        ID: 'w',
        type: 'worker',
        slot: 1,
        Status: { Timestamp: '2026-01-01T00:00:10Z', State: 'running', Message: '' },
      }),
    ];
    const out = taskStatuses(tasks, { nodes, memoryLimitBytes: 1024 });
    expect(
      out.map((t) => [`${t.processType}.${t.index}`, t.deploymentNumber, t.state, t.address, t.restartCount]),
    ).toEqual([
      ['web.1', 3, 'running', '10.0.0.2:30001', 1],
      ['web.2', 3, 'starting', '', 0],
      ['worker.1', 3, 'running', '', 0],
    ]);
    expect(out[0]?.node).toBe('mgr');
    expect(out[0]?.lastExitCode).toBe(2);
    expect(out[0]?.memoryLimitBytes).toBe(1024);
  });

  it('keeps a draining task of the previous deployment (still serving) and a crashed one', () => {
    const tasks: Task[] = [
      task({ ID: 'old', dep: 2, DesiredState: 'shutdown' }),
      task({
        ID: 'bad',
        dep: 4,
        DesiredState: 'shutdown',
        Status: { Timestamp: '', State: 'failed', Message: '', Err: 'task: non-zero exit (1)' },
      }),
    ];
    const out = taskStatuses(tasks, { nodes, memoryLimitBytes: 0 });
    expect(out.map((t) => [t.deploymentNumber, t.state, t.address])).toEqual([
      [2, 'stopping', '10.0.0.2:30001'],
      [4, 'crashed', ''],
    ]);
  });

  it.each([
    ['task: non-zero exit (3)', 3],
    ['task: non-zero exit (137): dockerexec: unhealthy container', 137],
    ['No such image: x', null],
  ])('exitCodeOf(%s)', (err, code) => {
    expect(exitCodeOf(err)).toBe(code);
  });

  it.each([
    [
      '{"detail":"nothing listens on port 5000","listening":[{"address":"127.0.0.1","port":3000}]}\n',
      'nothing listens on port 5000',
      1,
    ],
    ['garbage\n{"detail":"x","listening":[{"address":1},{"address":"::","port":5000}]}', 'x', 1],
    ['', null, 0],
    ['{"detail":5}', null, 0],
    ['{not json', null, 0],
  ])('parseHealthOutput %#', (text, detail, sockets) => {
    const r = parseHealthOutput(text);
    expect(r?.detail ?? null).toBe(detail);
    expect(r?.listening.length ?? 0).toBe(sockets);
  });
});

describe('the in-container health check (run here against real sockets)', () => {
  const closers: Array<() => void> = [];
  afterEach(() => {
    for (const c of closers.splice(0)) c();
  });

  const external = Object.values(os.networkInterfaces())
    .flat()
    .find((a) => a && !a.internal && a.family === 'IPv4');

  function serve(host: string, handler: (res: http.ServerResponse) => void): Promise<number> {
    const s = http.createServer((_req, res) => handler(res));
    closers.push(() => s.close());
    return new Promise((r) => s.listen(0, host, () => r((s.address() as net.AddressInfo).port)));
  }

  function check(port: number, path = '/'): Promise<{ code: number; out: string }> {
    return new Promise((resolve) => {
      const child = spawn(process.execPath, ['-e', HEALTH_SCRIPT], {
        env: { PORT: String(port), PAASTECH_HEALTH_PATH: path },
      });
      let out = '';
      child.stdout.on('data', (c) => {
        out += String(c);
      });
      child.on('exit', (code) => resolve({ code: code ?? -1, out }));
    });
  }

  it.runIf(external)(
    'passes below 500 and on a non-HTTP server; fails with a diagnosis otherwise',
    async () => {
      const ok = await serve('0.0.0.0', (res) => res.writeHead(404).end());
      expect((await check(ok)).code).toBe(0);

      const broken = await serve('0.0.0.0', (res) => res.writeHead(503).end());
      const b = await check(broken, '/health');
      expect(b.code).toBe(1);
      expect(parseHealthOutput(b.out)?.detail).toBe('GET /health answered 503');

      const raw = net.createServer((s) => s.end('SSH-2.0-not-http\r\n'));
      closers.push(() => raw.close());
      const rawPort = await new Promise<number>((r) =>
        raw.listen(0, '0.0.0.0', () => r((raw.address() as net.AddressInfo).port)),
      );
      expect((await check(rawPort)).code).toBe(0);

      // Bound to loopback only: the router (like the check) cannot reach it; the sockets tell why.
      const loop = await serve('127.0.0.1', (res) => res.end('hi'));
      const l = await check(loop);
      expect(l.code).toBe(1);
      const parsed = parseHealthOutput(l.out);
      expect(parsed?.detail).toBe(`nothing listens on port ${loop}`);
      expect(parsed?.listening).toContainEqual({ address: '127.0.0.1', port: loop });
    },
    30_000,
  );
});

describe('the drain shim', () => {
  it('keeps the process running for the drain period after SIGTERM, then passes it on and exits with its status', async () => {
    const child = spawn(
      '/bin/sh',
      [
        '-c',
        DRAIN_SHIM,
        'paastech-shim',
        'trap "echo got-term; exit 7" TERM; echo up; while :; do sleep 0.05; done',
      ],
      {
        env: { PAASTECH_DRAIN_SECONDS: '1', PATH: '/usr/bin:/bin' },
      },
    );
    let out = '';
    child.stdout.on('data', (c) => {
      out += String(c);
    });
    await new Promise((r) => setTimeout(r, 300));
    expect(out).toContain('up');
    const t0 = Date.now();
    child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 500));
    expect(out).not.toContain('got-term');
    const code = await new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
    expect(Date.now() - t0).toBeGreaterThanOrEqual(900);
    expect(out).toContain('got-term');
    expect(code).toBe(7);
  }, 10_000);
});
