// The deployments domain wired by hand on the resource services (real database, real git contract
// server) and a real Pomegrenade contract server, for tests below the HTTP layer; projects and
// config vars are wired with it, as in the app.
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { AuditService } from '../../src/audit/audit.service.js';
import type { ApiConfig } from '../../src/config.js';
import { ConfigVarsRepository } from '../../src/config-vars/config-vars.repository.js';
import { ConfigVarsService } from '../../src/config-vars/config-vars.service.js';
import type { Branches } from '../../src/deployments/branches.js';
import { DeploymentsRepository } from '../../src/deployments/deployments.repository.js';
import { DeploymentsService } from '../../src/deployments/deployments.service.js';
import { PomegrenadeClient } from '../../src/deployments/pomegrenade-client.js';
import { PushRecorder } from '../../src/deployments/push.js';
import { ProjectsRepository } from '../../src/projects/projects.repository.js';
import { ProjectsService } from '../../src/projects/projects.service.js';
import type { TestDialect } from './databases.js';
import {
  type PomegrenadeContractServer,
  startPomegrenadeContractServer,
} from './pomegrenade-contract-server.js';
import { type Resources, startResources } from './resources.js';

const run = promisify(execFile);

/** Timing short enough for tests: Pomegrenade counts as gone after 300 ms. */
export const TEST_TIMING = { retryMs: 50, giveUpMs: 300, saveEveryMs: 10 };

export interface DeploymentsWorld extends Resources {
  pom: PomegrenadeContractServer;
  pomClient: PomegrenadeClient;
  deployments: DeploymentsService;
  pushes: PushRecorder;
}

/** Branches read from the git contract server's real bare repositories with `git for-each-ref`. */
function repoBranches(reposDir: string): Branches {
  return {
    async deployBranches(projectId) {
      const gitDir = path.join(reposDir, `${projectId}.git`);
      const { stdout } = await run('git', [
        '--git-dir',
        gitDir,
        'for-each-ref',
        '--format=%(refname)',
        'refs/heads/',
      ]);
      const names = stdout.split('\n');
      return { main: names.includes('refs/heads/main'), master: names.includes('refs/heads/master') };
    },
    close() {},
  };
}

/** Starts resources, a Pomegrenade contract server, and the deployments domain over them. */
export async function startDeploymentsWorld(dialect: TestDialect): Promise<DeploymentsWorld> {
  const r = await startResources(dialect);
  const pom = await startPomegrenadeContractServer();
  const pomClient = new PomegrenadeClient(pom.address, pom.secret, 2000);
  const config = { appsDomain: 'apps.test', routerPort: 8080 } as ApiConfig;
  const deployments = new DeploymentsService(
    new DeploymentsRepository(r.database),
    pomClient,
    r.box,
    config,
    r.logger,
    TEST_TIMING,
  );
  const pushes = new PushRecorder(deployments, repoBranches(r.git.reposDir));
  // Projects and config vars as the app wires them: deletes and config changes reach deployments.
  const audit = new AuditService(r.database);
  const projects = new ProjectsService(
    new ProjectsRepository(r.database),
    r.gitClient,
    audit,
    config,
    r.logger,
    deployments,
  );
  const configVars = new ConfigVarsService(
    new ConfigVarsRepository(r.database),
    projects,
    r.box,
    audit,
    deployments,
  );
  const close = r.close;
  return {
    ...r,
    projects,
    configVars,
    pom,
    pomClient,
    deployments,
    pushes,
    async close() {
      await deployments.onModuleDestroy();
      await pom.close();
      await close();
    },
  };
}
