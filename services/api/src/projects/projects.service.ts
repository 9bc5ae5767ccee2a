// Projects: create (row + repository, all or nothing), list, get, delete (repository, then row).
// Invariant: a project row exists only while its repository does — creation inserts the row to
// claim the name (the unique index settles races), then asks the git controller for the
// repository, and deletes the row again if that fails; deletion removes the repository first, so a
// failure leaves a project that can simply be deleted again (DeleteRepository is idempotent).
import { Inject, Injectable, Optional } from '@nestjs/common';
import { DomainError, type Logger, NotFoundError, UnavailableError } from '@paastech/kit';
import { AuditService } from '../audit/audit.service.js';
import type { ApiConfig } from '../config.js';
import { isoNow, newId } from '../db/ids.js';
import { DeploymentsService } from '../deployments/deployments.service.js';
import { GIT_REPOSITORIES } from '../git/git.module.js';
import type { GitRepositories } from '../git/git-client.js';
import { API_CONFIG, LOGGER } from '../providers.js';
import { parseProjectName, projectNameProblem, quote } from './project-name.js';
import { mapProject, type ProjectDto } from './projects.dto.js';
import { type ProjectRow, type ProjectSummary, ProjectsRepository } from './projects.repository.js';

@Injectable()
export class ProjectsService {
  constructor(
    private readonly repo: ProjectsRepository,
    @Inject(GIT_REPOSITORIES) private readonly git: GitRepositories,
    private readonly audit: AuditService,
    @Inject(API_CONFIG) private readonly config: ApiConfig,
    @Inject(LOGGER) private readonly logger: Logger,
    @Optional() private readonly deployments?: DeploymentsService,
  ) {}

  /** The project `name` of `clientId`, or NotFoundError — the same for a missing and another Client's project. */
  async requireOwned(clientId: string, name: string): Promise<ProjectRow> {
    // A name no project can have is not looked up: it could hold bytes the database refuses (NUL).
    const row = projectNameProblem(name) ? undefined : await this.repo.findOwned(clientId, name);
    if (!row) throw new NotFoundError(`project ${quote(name)} not found`);
    return row;
  }

  /** Where the application of project `name` is served. */
  appUrl(name: string): string {
    const port = this.config.routerPort === 80 ? '' : `:${this.config.routerPort}`;
    return `http://${name}.${this.config.appsDomain}${port}/`;
  }

  /** The response form of a project, with its clone and app URLs. */
  private async present(row: ProjectSummary): Promise<ProjectDto> {
    return mapProject(row, await this.git.cloneUrls(row.name), this.appUrl(row.name));
  }

  async list(clientId: string): Promise<ProjectDto[]> {
    const rows = await this.repo.listByClient(clientId);
    return Promise.all(rows.map((row) => this.present(row)));
  }

  async get(clientId: string, name: string): Promise<ProjectDto> {
    return this.present(await this.requireOwned(clientId, name));
  }

  /** Creates the project and its repository, or neither. */
  async create(clientId: string, rawName: unknown, ip: string | null): Promise<ProjectDto> {
    const name = parseProjectName(rawName);
    const row = { id: newId(), client_id: clientId, name, created_at: isoNow(), health_check_path: null };
    await this.repo.insert(row);
    try {
      await this.git.createRepository(row.id);
    } catch (err) {
      await this.undoCreate(row.id);
      throw asDomainError(err, `project ${quote(name)}: the repository could not be created`);
    }
    await this.audit.record(clientId, 'project.create', `project:${name}`, ip, { project_id: row.id });
    return this.present(row);
  }

  /** Removes what a failed create left: the row, and a repository the controller may have made anyway. */
  private async undoCreate(projectId: string): Promise<void> {
    await this.repo.delete(projectId);
    await this.git.deleteRepository(projectId).catch((err: unknown) => {
      this.logger.warn({ err, projectId }, 'could not remove the repository of a failed project creation');
    });
  }

  /** Deletes the repository, then the project with its config vars and domains; frees the name. */
  async delete(clientId: string, name: string, ip: string | null): Promise<void> {
    const row = await this.requireOwned(clientId, name);
    await this.deployments?.projectDeleted(row.id);
    try {
      await this.git.deleteRepository(row.id);
    } catch (err) {
      throw asDomainError(err, `project ${quote(name)}: the repository could not be deleted`);
    }
    await this.repo.delete(row.id);
    await this.audit.record(clientId, 'project.delete', `project:${name}`, ip, { project_id: row.id });
  }
}

/** Keeps domain errors; turns anything else from the git controller into a 503 that says what failed. */
function asDomainError(err: unknown, what: string): Error {
  if (err instanceof DomainError) return err;
  return new UnavailableError(`${what}: ${(err as Error).message}`, { cause: err });
}
