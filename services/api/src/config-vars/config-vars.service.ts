// Config vars of a project. Invariants: values are sealed with AES-256-GCM bound to (project id,
// name) before they reach the database and are never logged or audited (audit events hold names
// only); a change (`set` + `unset`) is applied as ONE transaction, so it is one new version of the
// config — the unit a config deployment will later be made of.
import { Inject, Injectable, Optional } from '@nestjs/common';
import { InvalidArgumentError } from '@paastech/kit';
import { AuditService } from '../audit/audit.service.js';
import { SECRET_BOX } from '../crypto/crypto.module.js';
import { configVarAad, openConfigVars, type Sealed, type SecretBox } from '../crypto/secret-box.js';
import { DeploymentsService } from '../deployments/deployments.service.js';
import { ProjectsService } from '../projects/projects.service.js';
import { CONFIG_VARS_MAX_PER_PROJECT, parseConfigChange } from './config-var.js';
import type { ConfigChangeDto, ConfigVarsDto } from './config-vars.dto.js';
import { ConfigVarsRepository } from './config-vars.repository.js';

@Injectable()
export class ConfigVarsService {
  constructor(
    private readonly repo: ConfigVarsRepository,
    private readonly projects: ProjectsService,
    @Inject(SECRET_BOX) private readonly box: SecretBox,
    private readonly audit: AuditService,
    @Optional() private readonly deployments?: DeploymentsService,
  ) {}

  /** Every var of the Client's project, decrypted. */
  async get(clientId: string, projectName: string): Promise<ConfigVarsDto> {
    const project = await this.projects.requireOwned(clientId, projectName);
    return { vars: await this.decrypted(project.id) };
  }

  /** The project's vars as plaintext, name → value. */
  async decrypted(projectId: string): Promise<Record<string, string>> {
    return openConfigVars(this.box, projectId, await this.repo.list(projectId));
  }

  /** Applies one change atomically and returns the resulting config. */
  async change(
    clientId: string,
    projectName: string,
    body: ConfigChangeDto,
    ip: string | null,
  ): Promise<ConfigVarsDto> {
    const change = parseConfigChange(body);
    const project = await this.projects.requireOwned(clientId, projectName);
    const sealed = new Map<string, Sealed>();
    for (const [name, value] of change.set)
      sealed.set(name, this.box.seal(value, configVarAad(project.id, name)));
    await this.repo.apply(project.id, sealed, change.unset, (count) => {
      if (count > CONFIG_VARS_MAX_PER_PROJECT) {
        const rule = `a project may hold at most ${CONFIG_VARS_MAX_PER_PROJECT} config vars (this change makes ${count})`;
        throw new InvalidArgumentError(`config change: ${rule}`, [{ field: 'set', message: rule }]);
      }
    });
    await this.audit.record(clientId, 'config.change', `project:${project.name}`, ip, {
      set: [...change.set.keys()],
      unset: change.unset,
    });
    await this.deployments?.onConfigChanged(project, clientId);
    return { vars: await this.decrypted(project.id) };
  }
}
