import http from 'node:http';
import { describe, expect, it } from 'vitest';
import { eventually, fakeEngine, request, waitFor } from './support/fake-engine.js';

/** GET http://address/ → body. */
async function get(address: string): Promise<string> {
  const res = await fetch(`http://${address}/`);
  return (await res.text()).trim();
}

describe('Engine with FakeRuntime', () => {
  it('takes a deployment through queued → building → releasing → active and routes to it', async () => {
    const { engine } = await fakeEngine();
    const states: string[] = [];
    const d = engine.create(request('p1', 1));
    engine.events.watch('p1', 1, false, (e) => {
      if (e?.kind === 'state') states.push(e.state);
    });
    await waitFor(engine, 'p1', 1, ['active']);
    expect(d.state).toBe('active');
    expect(states).toEqual(['queued', 'building', 'releasing', 'active']);
    const route = engine.routes.get('p1');
    expect(route?.hostnames).toEqual(['p1.localhost']);
    expect(route?.upstreams).toHaveLength(1);
    expect(await get(route?.upstreams[0] ?? '')).toBe('v1');
  });

  it('streams step headers and masks config var values in build output', async () => {
    const { engine } = await fakeEngine();
    const lines: string[] = [];
    engine.create(request('p2', 1, { configVars: { SECRET: 'hunter2-very-secret' } }));
    engine.events.watch('p2', 1, false, (e) => {
      if (e?.kind === 'step') lines.push(`-----> ${e.title}`);
      if (e?.kind === 'line') lines.push(e.text);
    });
    await waitFor(engine, 'p2', 1, ['active']);
    expect(lines).toContain('-----> Fetching source');
    expect(lines.join('\n')).toContain('building with secret [hidden]');
    expect(lines.join('\n')).not.toContain('hunter2-very-secret');
    const logged = engine.logsOf('p2').read({ sources: [], tail: 1000 });
    expect(logged.map((l) => l.text).join('\n')).not.toContain('hunter2-very-secret');
  });

  it('keeps the old deployment serving when the new one never becomes healthy', async () => {
    const { engine, runtime } = await fakeEngine();
    engine.create(request('p3', 1));
    await waitFor(engine, 'p3', 1, ['active']);
    const before = engine.routes.get('p3')?.upstreams;
    runtime.behaviour = (spec) =>
      spec.source === 'build'
        ? { exitCode: 0 }
        : spec.env.PAASTECH_DEPLOYMENT === 'v2'
          ? { status: 500, lines: ['boom'] }
          : {};
    engine.create(request('p3', 2));
    const d2 = await waitFor(engine, 'p3', 2, ['failed']);
    expect(d2.failure).toEqual({
      reason: 'health_check_failed',
      message: 'health check on web.1 failed for 2s: GET / answered 500',
    });
    expect(engine.routes.get('p3')?.upstreams).toEqual(before);
    expect(engine.getDeployment('p3', 1).state).toBe('active');
    expect(await get(before?.[0] ?? '')).toBe('v1');
    expect(runtime.running('web.1').map((p) => p.spec.env.PAASTECH_DEPLOYMENT)).toEqual(['v1']);
  });

  it('does not put in traffic an instance whose port another process answers on', async () => {
    const { engine, runtime } = await fakeEngine();
    engine.create(request('pt', 1));
    await waitFor(engine, 'pt', 1, ['active']);
    const before = engine.routes.get('pt')?.upstreams;
    // v2's web.1 never listens; something else already answers on the port it was given.
    const impostors: http.Server[] = [];
    runtime.behaviour = (spec) => {
      if (spec.source === 'build') return { exitCode: 0 };
      if (spec.env.PAASTECH_DEPLOYMENT !== 'v2') return {};
      const s = http.createServer((_q, r) => r.end('impostor\n'));
      s.listen(Number(spec.env.PORT), '127.0.0.1');
      impostors.push(s);
      return { silent: true };
    };
    try {
      engine.create(request('pt', 2));
      const d2 = await waitFor(engine, 'pt', 2, ['failed', 'active']);
      const port = (impostors[0]?.address() as { port: number } | undefined)?.port;
      expect(port).toBeGreaterThan(0);
      expect(d2.failure).toEqual({
        reason: 'health_check_failed',
        message: `web.1 did not listen on the port in $PORT (${port}) within 2s: another process answers on port ${port}`,
      });
      expect(engine.routes.get('pt')?.upstreams).toEqual(before);
      expect(await get(before?.[0] ?? '')).toBe('v1');
    } finally {
      for (const s of impostors) s.close();
    }
  });

  it('fails with the exit code when an instance crashes on start', async () => {
    const { engine, runtime } = await fakeEngine();
    runtime.behaviour = (spec) =>
      spec.source === 'build' ? { exitCode: 0 } : { exitCode: 3, lines: ['Error: cannot find module'] };
    const events: string[] = [];
    engine.create(request('p4', 1));
    engine.events.watch('p4', 1, false, (e) => {
      if (e?.kind === 'line') events.push(`${e.source}: ${e.text}`);
    });
    const d = await waitFor(engine, 'p4', 1, ['failed']);
    expect(d.failure).toEqual({
      reason: 'instance_crashed',
      message: 'web.1 crashed on start: exited with code 3',
    });
    expect(events).toContain('web.1: Error: cannot find module');
    expect(engine.routes.get('p4')?.unavailable?.reason).toBe('not_deployed');
  });

  it('runs one deployment per project at a time and cancels queued ones superseded by newer', async () => {
    const { engine, builder } = await fakeEngine();
    builder.delayMs = 300;
    engine.create(request('p5', 1));
    await waitFor(engine, 'p5', 1, ['building']);
    engine.create(request('p5', 2));
    engine.create(request('p5', 3));
    expect(engine.getDeployment('p5', 2).state).toBe('cancelled');
    await waitFor(engine, 'p5', 1, ['cancelled']);
    await waitFor(engine, 'p5', 3, ['active']);
    expect(engine.listDeployments('p5', 0).map((d) => `${d.number}:${d.state}`)).toEqual([
      '3:active',
      '2:cancelled',
      '1:cancelled',
    ]);
  });

  it('limits concurrent builds across projects', async () => {
    const { engine, builder } = await fakeEngine(undefined, { maxConcurrentBuilds: 1 });
    builder.delayMs = 200;
    engine.create(request('c1', 1));
    engine.create(request('c2', 1));
    await waitFor(engine, 'c1', 1, ['building']);
    await new Promise((r) => setTimeout(r, 100));
    // c2 is "building" (waiting for a slot) but its builder has not run: only one build at a time.
    const c1 = await waitFor(engine, 'c1', 1, ['active']);
    const c2 = await waitFor(engine, 'c2', 1, ['active']);
    expect(Date.parse(c2.stateChangedAt) - Date.parse(c1.stateChangedAt)).toBeGreaterThanOrEqual(150);
  });

  it('is idempotent for the same request and refuses a reused number for another commit', async () => {
    const { engine } = await fakeEngine();
    const r = request('p6', 1);
    const a = engine.create(r);
    expect(engine.create(r)).toBe(a);
    expect(() => engine.create({ ...r, commitSha: 'b'.repeat(40) })).toThrow(
      'deployment v1 of project "p6" already exists',
    );
  });

  it.each([
    ['project id', { projectId: '../etc' }, 'project id "../etc" must be'],
    ['project name', { projectName: 'My App' }, 'project "My App": name must be a DNS label (a-z, 0-9, -)'],
    ['commit', { commitSha: 'HEAD' }, 'commit "HEAD" must be a full hex object id'],
    ['option-like commit', { commitSha: '--output=/etc/passwd' }, 'must be a full hex object id'],
    [
      'config var name',
      { configVars: { 'A=B': 'x' } },
      'config var "A=B" must be a valid environment variable name',
    ],
    ['formation', { formation: { web: 11 } }, 'formation asks for 11 instances; the limit is 10 per project'],
  ])('rejects a bad %s', async (_name, extra, message) => {
    const { engine } = await fakeEngine();
    expect(() => engine.create(request('p7', 1, extra))).toThrow(message);
  });

  it('rolls back to an earlier build with the config it ran with', async () => {
    const { engine, runtime } = await fakeEngine();
    engine.create(request('rb', 1, { configVars: { GREETING: 'one' } }));
    await waitFor(engine, 'rb', 1, ['active']);
    engine.create(request('rb', 2, { configVars: { GREETING: 'two' } }));
    await waitFor(engine, 'rb', 2, ['active']);
    expect(engine.getDeployment('rb', 1).state).toBe('superseded');
    engine.activateEarlier('rb', 1);
    await waitFor(engine, 'rb', 1, ['active']);
    expect(engine.getDeployment('rb', 2).state).toBe('superseded');
    await eventually(() => runtime.running('web.1').length === 1, 5000, 'old instance drained');
    expect(runtime.running('web.1')[0]?.spec.env.GREETING).toBe('one');
  });

  it('restarts a crashed instance with backoff and reports it', async () => {
    const { engine, runtime } = await fakeEngine();
    engine.create(request('cr', 1));
    await waitFor(engine, 'cr', 1, ['active']);
    runtime.running('web.1')[0]?.crash(7);
    await eventually(
      () => engine.routes.get('cr')?.unavailable?.reason === 'crashed',
      2000,
      'route says crashed',
    );
    expect(engine.routes.get('cr')?.unavailable?.message).toBe('web.1 exited with code 7');
    await eventually(
      () => (engine.routes.get('cr')?.upstreams.length ?? 0) === 1,
      5000,
      'instance restarted',
    );
    const s = engine.status('cr');
    expect(s?.instances[0]?.restartCount).toBe(1);
    expect(
      engine
        .logsOf('cr')
        .read({ sources: ['platform'], tail: 50 })
        .map((l) => l.text),
    ).toContain('web.1 exited with code 7; restarting in 1s');
  });

  it('scales process types up and down', async () => {
    const { engine, runtime, builder } = await fakeEngine();
    builder.procfiles.set('', 'web: serve\nworker: work\n');
    engine.create(request('sc', 1));
    await waitFor(engine, 'sc', 1, ['active']);
    expect(runtime.running().filter((p) => p.spec.source.startsWith('worker')).length).toBe(0);
    expect(engine.scale('sc', { web: 3, worker: 2 })).toEqual({ web: 3, worker: 2 });
    await eventually(() => engine.routes.get('sc')?.upstreams.length === 3, 5000, '3 web upstreams');
    expect(runtime.running().filter((p) => p.spec.source.startsWith('worker')).length).toBe(2);
    engine.scale('sc', { web: 1, worker: 0 });
    await eventually(() => runtime.running().length === 1, 5000, 'scaled down');
    expect(engine.routes.get('sc')?.upstreams).toHaveLength(1);
    expect(() => engine.scale('sc', { cron: 1 })).toThrow(
      'process type "cron": the active deployment does not declare it',
    );
    expect(() => engine.scale('sc', { web: 11 })).toThrow(
      'formation asks for 11 instances; the limit is 10 per project',
    );
    engine.scale('sc', { web: 0 });
    await eventually(
      () => engine.routes.get('sc')?.unavailable?.reason === 'scaled_to_zero',
      5000,
      'scaled to zero',
    );
  });

  it('re-converges after a restart: active apps come back, building ones fail as interrupted', async () => {
    const first = await fakeEngine();
    first.engine.create(request('rc', 1, { configVars: { K: 'secret-value' } }));
    await waitFor(first.engine, 'rc', 1, ['active']);
    first.builder.delayMs = 5000;
    first.engine.create(request('rc', 2));
    await waitFor(first.engine, 'rc', 2, ['building']);
    // "crash": the first engine is abandoned, a new one opens the same data dir.
    const second = await first.reopen();
    expect(second.engine.getDeployment('rc', 2).state).toBe('failed');
    expect(second.engine.getDeployment('rc', 2).failure?.message).toBe('interrupted by a platform restart');
    await eventually(() => second.runtime.running('web.1').length === 1, 5000, 'web.1 back');
    expect(second.runtime.running('web.1')[0]?.spec.env.K).toBe('secret-value');
    await eventually(() => second.engine.routes.get('rc')?.upstreams.length === 1, 5000, 'route back');
    // Log lines written before the restart are read back from disk.
    const old = second.engine
      .logsOf('rc')
      .read({ sources: ['platform'], tail: 100 })
      .map((l) => l.text);
    expect(old).toContain('v1 active');
    expect(old).toContain('v2 failed: interrupted by a platform restart');
  });

  it('stores config vars encrypted', async () => {
    const { engine, dataDir } = await fakeEngine();
    engine.create(request('enc', 1, { configVars: { DB_PASSWORD: 'plain-text-password' } }));
    await waitFor(engine, 'enc', 1, ['active']);
    const fs = await import('node:fs');
    const state = fs.readFileSync(`${dataDir}/pomegrenade/projects/enc/state.json`, 'utf8');
    expect(state).not.toContain('plain-text-password');
    expect(state).toContain('"commitSha"');
  });

  it('stops and starts a project, and deletes it without leftovers', async () => {
    const { engine, runtime, dataDir } = await fakeEngine();
    engine.create(request('sd', 1));
    await waitFor(engine, 'sd', 1, ['active']);
    await engine.stop('sd');
    expect(runtime.running()).toHaveLength(0);
    expect(engine.routes.get('sd')?.unavailable?.reason).toBe('stopped');
    await engine.start('sd');
    await eventually(() => engine.routes.get('sd')?.upstreams.length === 1, 5000, 'started again');
    const freed = await engine.deleteProject('sd');
    expect(freed).toBeGreaterThan(0);
    expect(runtime.running()).toHaveLength(0);
    expect(engine.routes.get('sd')).toBeUndefined();
    const fs = await import('node:fs');
    expect(fs.existsSync(`${dataDir}/pomegrenade/projects/sd`)).toBe(false);
    expect(await engine.deleteProject('sd')).toBe(0);
  });

  it('keeps only the newest builds', async () => {
    const { engine, dataDir } = await fakeEngine(undefined, { keepBuilds: 2 });
    for (let n = 1; n <= 4; n++) {
      engine.create(request('kb', n));
      await waitFor(engine, 'kb', n, ['active']);
    }
    const fs = await import('node:fs');
    expect(fs.readdirSync(`${dataDir}/pomegrenade/projects/kb/builds`).sort()).toEqual(['v3', 'v4']);
    expect(engine.listDeployments('kb', 0).map((d) => d.buildRetained)).toEqual([true, true, false, false]);
    expect(() => engine.activateEarlier('kb', 1)).toThrow('deployment v1: its build is no longer kept');
  });

  it('fails the deployment when the release command fails, keeping the previous one', async () => {
    const { engine, runtime, builder } = await fakeEngine();
    engine.create(request('rel', 1));
    await waitFor(engine, 'rel', 1, ['active']);
    builder.procfiles.set('', 'web: serve\nrelease: migrate\n');
    runtime.behaviour = (spec) =>
      spec.source === 'build'
        ? { exitCode: 0 }
        : spec.source === 'release'
          ? { exitCode: 4, lines: ['migration 7 failed', 'password=db-pass-1234'] }
          : {};
    const lines: string[] = [];
    engine.create(request('rel', 2, { configVars: { DB_PASSWORD: 'db-pass-1234' } }));
    engine.events.watch('rel', 2, false, (e) => {
      if (e?.kind === 'line') lines.push(`${e.source}: ${e.text}`);
    });
    const d = await waitFor(engine, 'rel', 2, ['failed']);
    expect(d.failure).toEqual({ reason: 'build_failed', message: 'release command exited with code 4' });
    expect(lines).toContain('release: migration 7 failed');
    expect(lines).toContain('release: password=[hidden]');
    expect(engine.getDeployment('rel', 1).state).toBe('active');
    expect(runtime.running('web.1').map((p) => p.spec.env.PAASTECH_DEPLOYMENT)).toEqual(['v1']);
  });

  it('cancels a building deployment on request; the active one stays', async () => {
    const { engine, builder } = await fakeEngine();
    engine.create(request('can', 1));
    await waitFor(engine, 'can', 1, ['active']);
    builder.delayMs = 500;
    engine.create(request('can', 2));
    await waitFor(engine, 'can', 2, ['building']);
    engine.cancel('can', 2);
    await waitFor(engine, 'can', 2, ['cancelled']);
    expect(engine.getDeployment('can', 1).state).toBe('active');
    expect(() => engine.cancel('can', 2)).toThrow('deployment v2 has already ended (cancelled)');
  });

  it("reports the router's traffic as router log lines", async () => {
    const { engine } = await fakeEngine();
    engine.create(request('rt', 1));
    await waitFor(engine, 'rt', 1, ['active']);
    engine.routerLog('rt', '12 requests in 10s');
    engine.routerLog('unknown-project', 'ignored');
    expect(
      engine
        .logsOf('rt')
        .read({ sources: ['router'], tail: 10 })
        .map((l) => l.text),
    ).toEqual(['12 requests in 10s']);
  });

  it('stops a project at once even while a build runs; the build still becomes active, stopped', async () => {
    const { engine, runtime, builder } = await fakeEngine();
    engine.create(request('st', 1));
    await waitFor(engine, 'st', 1, ['active']);
    builder.delayMs = 400;
    engine.create(request('st', 2));
    await waitFor(engine, 'st', 2, ['building']);
    const started = Date.now();
    await engine.stop('st');
    expect(Date.now() - started).toBeLessThan(300);
    expect(runtime.running('web.1')).toHaveLength(0);
    await waitFor(engine, 'st', 2, ['active']);
    expect(runtime.running('web.1')).toHaveLength(0);
    expect(engine.routes.get('st')?.unavailable?.reason).toBe('stopped');
    await engine.start('st');
    await eventually(() => engine.routes.get('st')?.upstreams.length === 1, 5000, 'started');
    expect(runtime.running('web.1')[0]?.spec.env.PAASTECH_DEPLOYMENT).toBe('v2');
  });
});
