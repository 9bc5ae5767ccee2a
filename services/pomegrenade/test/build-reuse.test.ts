// Deployments that reuse a build (config changes, rollbacks) must run the directory of the deployment
// that really built it, however many reuses lie in between (push → config → rollback → config).
import { describe, expect, it } from 'vitest';
import { fakeEngine, request, waitFor } from './support/fake-engine.js';

describe('build reuse', () => {
  it('follows a chain of reused builds to the deployment that built it', async () => {
    const { engine, runtime } = await fakeEngine();
    engine.create(request('chain', 1));
    await waitFor(engine, 'chain', 1, ['active']);
    engine.create(request('chain', 2, { source: { kind: 'build_of', number: 1 }, configVars: { K: 'two' } }));
    await waitFor(engine, 'chain', 2, ['active']);
    engine.create(
      request('chain', 3, { source: { kind: 'build_of', number: 2 }, configVars: { K: 'three' } }),
    );
    await waitFor(engine, 'chain', 3, ['active']);
    engine.create(
      request('chain', 4, { source: { kind: 'build_of', number: 3 }, configVars: { K: 'four' } }),
    );
    const d4 = await waitFor(engine, 'chain', 4, ['active', 'failed']);
    expect(d4.state).toBe('active');
    const [web] = runtime.running('web.1');
    expect(web?.spec.env.K).toBe('four');
    expect(web?.spec.appDir).toMatch(/\/builds\/v1\/app$/);
  });
});
