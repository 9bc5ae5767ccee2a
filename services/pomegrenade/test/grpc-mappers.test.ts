// The status mappers: what an instance or a Swarm task becomes on the wire (GetProjectStatus).
import { deploy } from '@paastech/proto';
import { describe, expect, it } from 'vitest';
import type { Instance } from '../src/domain/instance.js';
import type { TaskStatus } from '../src/domain/ports.js';
import { mapInstance, mapTask } from '../src/grpc/mappers.js';

function task(over: Partial<TaskStatus> = {}): TaskStatus {
  return {
    processType: 'web',
    index: 2,
    deploymentNumber: 4,
    state: 'running',
    node: 'worker-1',
    address: '10.0.0.3:31000',
    startedAt: new Date('2026-11-28T10:00:00Z'),
    restartCount: 1,
    lastExitCode: 137,
    message: '',
    memoryLimitBytes: 512,
    ...over,
  };
}

/** Encoded and decoded as Pomegrenade's answer crosses the wire to the API. */
const wire = (i: deploy.Instance) => deploy.Instance.decode(deploy.Instance.encode(i).finish());

describe('mapTask: a Swarm task as a proto Instance', () => {
  it('carries the node it runs on, and the usage when sampled', () => {
    const m = mapTask(task(), { memoryBytes: 100, cpuMillicores: 7 });
    expect(m).toEqual({
      processType: 'web',
      index: 2,
      state: deploy.InstanceState.INSTANCE_STATE_RUNNING,
      deploymentNumber: 4,
      startedAt: new Date('2026-11-28T10:00:00Z'),
      restartCount: 1,
      lastExitCode: 137,
      memoryBytes: 100,
      memoryLimitBytes: 512,
      cpuMillicores: 7,
      node: 'worker-1',
    });
    expect(wire(m).node).toBe('worker-1');
  });

  it.each([
    ['a task not yet placed', task({ node: '', state: 'starting', startedAt: undefined }), ''],
    ['a node named by its id (hostname unknown)', task({ node: 'x7k2m9q1' }), 'x7k2m9q1'],
    ['a crashed task keeps its node', task({ state: 'crashed' }), 'worker-1'],
  ])('%s', (_name, t, node) => {
    const m = mapTask(t, undefined);
    expect(m.node).toBe(node);
    expect(m.memoryBytes).toBe(0);
    expect(wire(m).node).toBe(node);
  });
});

describe('mapInstance: a local instance as a proto Instance', () => {
  it('names no node (one machine)', async () => {
    const local = {
      spec: { processType: 'web', index: 1, deploymentNumber: 3, limits: { memoryBytes: 256 } },
      state: 'running',
      startedAt: new Date('2026-11-28T11:00:00Z'),
      restartCount: 0,
      lastExitCode: 0,
      usage: async () => ({ memoryBytes: 10, cpuMillicores: 2 }),
    } as unknown as Instance;
    const m = await mapInstance(local);
    expect(m).toMatchObject({
      processType: 'web',
      index: 1,
      memoryBytes: 10,
      memoryLimitBytes: 256,
      node: '',
    });
    expect(wire(m).node).toBe('');
  });
});
