// The engine's side of the per-project egress setting, with the FakeRuntime recording what it
// was told: CreateDeployment sets it, UpdateProjectRouting changes it or leaves it, a restart
// hands the persisted setting to the runtime before anything runs again.
import { describe, expect, it } from 'vitest';
import { fakeEngine, request, waitFor } from './support/fake-engine.js';

const routing = { name: 'p1', domains: ['p1.localhost'], httpsRedirect: false };

describe('egress per project (engine)', () => {
  it('a deployment with egress disabled turns it off in the runtime before its build', async () => {
    const { engine, runtime } = await fakeEngine();
    let egressAtBuild: boolean | undefined;
    runtime.behaviour = (spec) => {
      if (spec.source === 'build') egressAtBuild = runtime.egress.get('p1');
      return spec.source === 'build' ? { exitCode: 0 } : {};
    };
    engine.create(request('p1', 1, { egressDisabled: true }));
    await waitFor(engine, 'p1', 1, ['active']);
    expect(egressAtBuild).toBe(false);
    engine.create(request('p1', 2, { egressDisabled: false }));
    await waitFor(engine, 'p1', 2, ['active']);
    expect(runtime.egress.get('p1')).toBe(true);
  });

  it('UpdateProjectRouting switches egress at once, and leaves it alone when unset', async () => {
    const { engine, runtime } = await fakeEngine();
    engine.create(request('p1', 1));
    await waitFor(engine, 'p1', 1, ['active']);
    await engine.updateRouting('p1', { ...routing, egressDisabled: true });
    expect(runtime.egress.get('p1')).toBe(false);
    runtime.egress.clear();
    await engine.updateRouting('p1', routing);
    expect(runtime.egress.has('p1')).toBe(false);
    expect(engine.status('p1')?.record.egressDisabled).toBe(true);
  });

  it('keeps the setting across a restart and applies it before instances start again', async () => {
    const { engine, reopen } = await fakeEngine();
    engine.create(request('p1', 1, { egressDisabled: true }));
    engine.create(request('p2', 1));
    await waitFor(engine, 'p1', 1, ['active']);
    await waitFor(engine, 'p2', 1, ['active']);
    await engine.shutdown();
    const again = await reopen();
    expect(again.runtime.egress.get('p1')).toBe(false);
    expect(again.runtime.egress.get('p2')).toBe(true);
    await again.engine.shutdown();
  });
});
