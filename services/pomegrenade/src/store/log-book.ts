// The logs of every project, opened on first use.
import path from 'node:path';
import { ProjectLog } from './logs.js';

/** Opens and caches ProjectLog instances under <stateDir>/projects/<id>/logs. */
export class LogBook {
  private readonly open = new Map<string, ProjectLog>();

  constructor(private readonly projectsDir: string) {}

  get(projectId: string): ProjectLog {
    let log = this.open.get(projectId);
    if (!log) {
      log = new ProjectLog(path.join(this.projectsDir, projectId, 'logs'));
      this.open.set(projectId, log);
    }
    return log;
  }

  forget(projectId: string): void {
    this.open.delete(projectId);
  }

  flushAll(): void {
    for (const log of this.open.values()) log.flush();
  }
}
