// Custom domains of a project: validated hostnames, unique across all projects.
import { Inject, Injectable, Optional } from '@nestjs/common';
import { NotFoundError } from '@paastech/kit';
import { AuditService } from '../audit/audit.service.js';
import type { ApiConfig } from '../config.js';
import { isoNow, newId } from '../db/ids.js';
import { DeploymentsService } from '../deployments/deployments.service.js';
import { quote } from '../projects/project-name.js';
import { ProjectsService } from '../projects/projects.service.js';
import { API_CONFIG } from '../providers.js';
import { type DomainDto, mapDomain } from './domains.dto.js';
import { DomainsRepository } from './domains.repository.js';
import { parseHostname } from './hostname.js';

@Injectable()
export class DomainsService {
  constructor(
    private readonly repo: DomainsRepository,
    private readonly projects: ProjectsService,
    private readonly audit: AuditService,
    @Inject(API_CONFIG) private readonly config: ApiConfig,
    @Optional() private readonly deployments?: DeploymentsService,
  ) {}

  async list(clientId: string, projectName: string): Promise<DomainDto[]> {
    const project = await this.projects.requireOwned(clientId, projectName);
    return (await this.repo.list(project.id)).map(mapDomain);
  }

  async add(
    clientId: string,
    projectName: string,
    rawHostname: unknown,
    ip: string | null,
  ): Promise<DomainDto> {
    const project = await this.projects.requireOwned(clientId, projectName);
    const hostname = parseHostname(rawHostname, {
      appsDomain: this.config.appsDomain,
      projectName: project.name,
    });
    const row = { id: newId(), project_id: project.id, hostname, created_at: isoNow() };
    await this.repo.insert(row);
    try {
      await this.deployments?.syncDomains(project);
    } catch (err) {
      // Routing could not follow: leave nothing half-done, the Client can try again.
      await this.repo.delete(project.id, hostname);
      throw err;
    }
    await this.audit.record(clientId, 'domain.add', `project:${project.name}`, ip, { hostname });
    return mapDomain(row);
  }

  /** Removes a domain of the project; the hostname is compared in lower case, as stored. */
  async remove(clientId: string, projectName: string, rawHostname: string, ip: string | null): Promise<void> {
    const project = await this.projects.requireOwned(clientId, projectName);
    const hostname = rawHostname.toLowerCase().replace(/\.$/, '');
    // Only printable ASCII can be stored, so anything else is simply not there (and never reaches SQL).
    const storable = /^[\u0021-\u007e]{1,253}$/.test(hostname);
    const row = storable ? await this.repo.delete(project.id, hostname) : undefined;
    if (!row) {
      throw new NotFoundError(`domain ${quote(rawHostname)} not found in project ${quote(project.name)}`);
    }
    try {
      // The router must stop sending this host to the project now: another Client may claim it next.
      await this.deployments?.syncDomains(project);
    } catch (err) {
      await this.repo.insert(row);
      throw err;
    }
    await this.audit.record(clientId, 'domain.remove', `project:${project.name}`, ip, { hostname });
  }
}
