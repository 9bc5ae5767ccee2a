// The API's resource services (projects, config vars, domains, SSH keys) wired by hand on a real
// test database and a real git contract server, for tests below the HTTP layer.
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { createLogger, type Logger } from '@paastech/kit';
import { AuditService } from '../../src/audit/audit.service.js';
import type { ApiConfig } from '../../src/config.js';
import { ConfigVarsRepository } from '../../src/config-vars/config-vars.repository.js';
import { ConfigVarsService } from '../../src/config-vars/config-vars.service.js';
import { SecretBox } from '../../src/crypto/secret-box.js';
import { type Database, openDatabase } from '../../src/db/database.js';
import { isoNow, newId } from '../../src/db/ids.js';
import { DomainsRepository } from '../../src/domains/domains.repository.js';
import { DomainsService } from '../../src/domains/domains.service.js';
import { GitClient } from '../../src/git/git-client.js';
import { ProjectsRepository } from '../../src/projects/projects.repository.js';
import { ProjectsService } from '../../src/projects/projects.service.js';
import { SshKeysRepository } from '../../src/ssh-keys/ssh-keys.repository.js';
import { SshKeysService } from '../../src/ssh-keys/ssh-keys.service.js';
import { createTestDatabase, type TestDatabase, type TestDialect } from './databases.js';
import { type GitContractServer, startGitContractServer } from './git-contract-server.js';

export interface Resources {
  t: TestDatabase;
  database: Database;
  git: GitContractServer;
  gitClient: GitClient;
  box: SecretBox;
  logger: Logger;
  /** Every log line written so far. */
  logs(): string;
  projects: ProjectsService;
  configVars: ConfigVarsService;
  domains: DomainsService;
  sshKeys: SshKeysService;
  /** Inserts a Client and returns its id. */
  newClient(): Promise<string>;
  close(): Promise<void>;
}

/** Wires the resource services on a fresh database of `dialect`. */
export async function startResources(dialect: TestDialect): Promise<Resources> {
  const t = await createTestDatabase(dialect);
  const database = await openDatabase(t);
  const git = await startGitContractServer();
  const gitClient = new GitClient(git.address, git.secret);
  const box = new SecretBox(randomBytes(32));
  let logText = '';
  const sink = new Writable({
    write(chunk, _enc, done) {
      logText += String(chunk);
      done();
    },
  });
  const logger = createLogger('api', { level: 'trace', format: 'json', destination: sink });
  const config = { appsDomain: 'apps.test', routerPort: 8080 } as ApiConfig;
  const audit = new AuditService(database);
  const projects = new ProjectsService(new ProjectsRepository(database), gitClient, audit, config, logger);
  return {
    t,
    database,
    git,
    gitClient,
    box,
    logger,
    logs: () => logText,
    projects,
    configVars: new ConfigVarsService(new ConfigVarsRepository(database), projects, box, audit),
    domains: new DomainsService(new DomainsRepository(database), projects, audit, config),
    sshKeys: new SshKeysService(new SshKeysRepository(database), audit),
    async newClient() {
      const id = newId();
      await database.db
        .insertInto('clients')
        .values({ id, email: `${id}@example.com`, password_hash: 'x', created_at: isoNow() })
        .execute();
      return id;
    },
    async close() {
      gitClient.close();
      await database.close();
      await git.stop();
      await t.drop();
    },
  };
}
