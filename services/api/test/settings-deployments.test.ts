// Project settings below the HTTP layer: SettingsService over a real database, a real git
// contract server and a real Pomegrenade contract server. What a project sets reaches
// CreateDeployment (limits, health check path, builder, egress); an egress change reaches a deployed
// project at once through UpdateProjectRouting, and a Pomegrenade that cannot take it leaves the
// stored setting unchanged.
import { UnavailableError } from '@paastech/kit';
import type { control, deploy } from '@paastech/proto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { AuditService } from '../src/audit/audit.service.js';
import { ProjectsRepository } from '../src/projects/projects.repository.js';
import { SettingsService } from '../src/settings/settings.service.js';
import { DIALECTS } from './support/databases.js';
import { type DeploymentsWorld, startDeploymentsWorld } from './support/deployments.js';
import { SUCCEEDS } from './support/pomegrenade-contract-server.js';

const MiB = 1024 * 1024;
const ZERO = '0'.repeat(40);
const sha = (n: number) => n.toString(16).padStart(40, 'e');

/** Drains a push's events; the final result line. */
async function result(events: AsyncIterable<control.RecordPushResponse>): Promise<string> {
  let last = '';
  for await (const { event: e } of events) if (e?.$case === 'result') last = e.value.reason;
  return last;
}

describe.each(DIALECTS)('project settings reach Pomegrenade on %s', (dialect) => {
  let w: DeploymentsWorld;
  let alice: string;
  let settings: SettingsService;
  let n = 0;

  /** Pushes main of `projectId` and returns the CreateDeployment request Pomegrenade received. */
  async function deploy(projectId: string): Promise<deploy.CreateDeploymentRequest> {
    n++;
    const reason = await result(
      w.pushes.recordPush({
        projectId,
        pusherClientId: alice,
        refUpdates: [{ oldSha: ZERO, newSha: sha(n), refName: 'refs/heads/main' }],
        pushOptions: [],
        quarantine: { objectDirectory: '/repo/objects/incoming-x', alternateObjectDirectories: [] },
      }),
    );
    expect(reason).toMatch(/^deployed v\d+/);
    const sent = [...w.pom.deployments.values()].filter((d) => d.request.projectId === projectId).at(-1);
    return sent?.request as deploy.CreateDeploymentRequest;
  }

  beforeAll(async () => {
    w = await startDeploymentsWorld(dialect);
    alice = await w.newClient();
    settings = new SettingsService(
      w.projects,
      w.deployments,
      new AuditService(w.database),
      new ProjectsRepository(w.database),
    );
  });
  afterAll(() => w.close());
  beforeEach(async () => {
    w.pom.script = SUCCEEDS;
    await w.pom.start();
    await expect
      .poll(() =>
        w.pomClient.getProjectStatus('none').then(
          () => true,
          () => false,
        ),
      )
      .toBe(true);
  });

  it('a new project deploys with platform defaults and egress on', async () => {
    const p = await w.projects.create(alice, `defaults-${dialect}`, null);
    const req = await deploy(p.id);
    expect(req.limits).toEqual({ memoryBytes: 0, cpuMillicores: 0, maxProcesses: 0, diskBytes: 0 });
    expect(req.egressDisabled).toBe(false);
    expect(req.build?.builder).toBe('');
    expect(req.build?.buildpackUrl).toBeUndefined();
    expect(req.healthCheck?.path).toBe('');
  });

  it('the buildpack reaches the next CreateDeployment (a change alone deploys nothing); null clears it', async () => {
    const name = `bp-${dialect}`;
    const p = await w.projects.create(alice, name, null);
    await deploy(p.id);
    const sent = () => [...w.pom.deployments.values()].filter((d) => d.request.projectId === p.id).length;
    const before = sent();
    await settings.change(alice, name, { buildpack: 'custom-buildpack' }, null);
    expect(sent()).toBe(before);
    expect((await deploy(p.id)).build?.buildpackUrl).toBe('custom-buildpack');
    const url = 'https://git.example.com/team/bp.git#v2';
    await settings.change(alice, name, { buildpack: url, builder: 'node' }, null);
    expect((await deploy(p.id)).build).toEqual({ builder: 'node', timeoutSeconds: 0, buildpackUrl: url });
    await settings.change(alice, name, { buildpack: null }, null);
    expect((await deploy(p.id)).build?.buildpackUrl).toBeUndefined();
  });

  it('CreateDeployment receives limits, health check path, builder and egress as set', async () => {
    const name = `shop-${dialect}`;
    const p = await w.projects.create(alice, name, null);
    const before = w.pom.routings.length;
    const set = await settings.change(
      alice,
      name,
      {
        health_check_path: '/healthz',
        builder: 'python',
        egress: false,
        limits: { memory_mb: 256, cpu_millicores: 500, max_processes: 64, disk_mb: 32 },
      },
      null,
    );
    expect(set).toMatchObject({ egress: false, builder: 'python', health_check_path: '/healthz' });
    // Never deployed: nothing to switch on Pomegrenade yet, the first deployment carries it.
    expect(w.pom.routings.length).toBe(before);
    const req = await deploy(p.id);
    expect(req.limits).toEqual({
      memoryBytes: 256 * MiB,
      cpuMillicores: 500,
      maxProcesses: 64,
      diskBytes: 32 * MiB,
    });
    expect(req.egressDisabled).toBe(true);
    expect(req.build?.builder).toBe('python');
    expect(req.healthCheck?.path).toBe('/healthz');

    // null goes back to the platform default; fields left out stay.
    await settings.change(alice, name, { limits: { memory_mb: null }, health_check_path: null }, null);
    const again = await deploy(p.id);
    expect(again.limits?.memoryBytes).toBe(0);
    expect(again.limits?.cpuMillicores).toBe(500);
    expect(again.healthCheck?.path).toBe('');
    expect(again.build?.builder).toBe('python');
  });

  it('an egress change of a deployed project reaches Pomegrenade at once', async () => {
    const name = `live-${dialect}`;
    const p = await w.projects.create(alice, name, null);
    await deploy(p.id);
    await settings.change(alice, name, { egress: false }, null);
    expect(w.pom.routings.at(-1)).toEqual({
      projectId: p.id,
      projectName: name,
      domains: [`${name}.apps.test`],
      httpsRedirect: false,
      egressDisabled: true,
    });
    const count = w.pom.routings.length;
    // Unchanged egress: no call.
    await settings.change(alice, name, { egress: false, builder: 'node' }, null);
    expect(w.pom.routings.length).toBe(count);
    await settings.change(alice, name, { egress: true }, null);
    expect(w.pom.routings.at(-1)?.egressDisabled).toBe(false);
  });

  it('a Pomegrenade that is down refuses the egress change and nothing is stored', async () => {
    const name = `down-${dialect}`;
    const p = await w.projects.create(alice, name, null);
    await deploy(p.id);
    await w.pom.stop();
    await expect(settings.change(alice, name, { egress: false, builder: 'static' }, null)).rejects.toThrow(
      UnavailableError,
    );
    expect(await settings.get(alice, name)).toMatchObject({ egress: true, builder: 'auto' });
  });
});
