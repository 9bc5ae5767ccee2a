// Project settings: health check path, builder, buildpack, egress and per-instance limits. They are stored on
// the project row and travel with every CreateDeployment; egress is also switched at once on
// Pomegrenade (before the row changes, so a refused switch leaves the stored setting as it was).
import { Injectable } from '@nestjs/common';
import { AuditService } from '../audit/audit.service.js';
import { DeploymentsService } from '../deployments/deployments.service.js';
import { ProjectsRepository } from '../projects/projects.repository.js';
import { ProjectsService } from '../projects/projects.service.js';
import { mapSettings, type SettingsChangeDto, type SettingsDto } from './settings.dto.js';

/** The project columns a settings change writes. */
type SettingsColumns = {
  health_check_path?: string | null;
  builder?: string;
  buildpack?: string | null;
  egress_enabled?: number;
  memory_mb?: number | null;
  cpu_millicores?: number | null;
  max_processes?: number | null;
  disk_mb?: number | null;
};

/** The columns `dto` changes (fields left out stay as they are). */
function columnsOf(dto: SettingsChangeDto): SettingsColumns {
  const out: SettingsColumns = {};
  if (dto.health_check_path !== undefined) out.health_check_path = dto.health_check_path;
  if (dto.builder !== undefined) out.builder = dto.builder;
  if (dto.buildpack !== undefined) out.buildpack = dto.buildpack;
  if (dto.egress !== undefined) out.egress_enabled = dto.egress ? 1 : 0;
  for (const key of ['memory_mb', 'cpu_millicores', 'max_processes', 'disk_mb'] as const) {
    const v = dto.limits?.[key];
    if (v !== undefined) out[key] = v;
  }
  return out;
}

@Injectable()
export class SettingsService {
  constructor(
    private readonly projects: ProjectsService,
    private readonly deployments: DeploymentsService,
    private readonly audit: AuditService,
    private readonly repo: ProjectsRepository,
  ) {}

  async get(clientId: string, name: string): Promise<SettingsDto> {
    return mapSettings(await this.projects.requireOwned(clientId, name));
  }

  /** Applies a change: egress at once on Pomegrenade when it changes, then the row. */
  async change(
    clientId: string,
    name: string,
    dto: SettingsChangeDto,
    ip: string | null,
  ): Promise<SettingsDto> {
    const project = await this.projects.requireOwned(clientId, name);
    const columns = columnsOf(dto);
    if (Object.keys(columns).length === 0) return mapSettings(project);
    const next = { ...project, ...columns };
    if (next.egress_enabled !== project.egress_enabled)
      await this.deployments.applyEgress(next, next.egress_enabled !== 0);
    await this.repo.update(project.id, columns);
    await this.audit.record(clientId, 'project.settings', `project:${project.name}`, ip, columns);
    return mapSettings(next);
  }
}
