// Persisted state: one JSON file per project under <dataDir>/pomegrenade/projects/<id>/state.json,
// replaced atomically (write a temp file, fsync, rename), so a crash leaves the old or the new
// version, never half of one. Config var values are encrypted (AES-256-GCM, key in <dataDir>/keys).
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { loadOrCreateSecret } from '@paastech/kit';
import type { DeploymentRecord, ProjectRecord } from '../domain/model.js';

interface Sealed {
  iv: string;
  tag: string;
  data: string;
}

type StoredDeployment = Omit<DeploymentRecord, 'configVars'> & { configVars: Sealed };
type StoredProject = Omit<ProjectRecord, 'deployments'> & { deployments: StoredDeployment[] };

/** Reads and writes project records. */
export class StateStore {
  private readonly key: Buffer;

  constructor(
    readonly stateDir: string,
    keysDir: string,
  ) {
    const secret = loadOrCreateSecret(path.join(keysDir, 'pomegrenade-state'));
    this.key = createHash('sha256').update(secret).digest();
    fs.mkdirSync(this.projectsDir(), { recursive: true, mode: 0o700 });
  }

  projectsDir(): string {
    return path.join(this.stateDir, 'projects');
  }

  /** Directory of everything Pomegrenade keeps for one project. */
  projectDir(projectId: string): string {
    return path.join(this.projectsDir(), projectId);
  }

  /** Every stored project (unreadable files are reported through `onError` and skipped). */
  loadAll(onError: (id: string, err: unknown) => void): ProjectRecord[] {
    const out: ProjectRecord[] = [];
    for (const id of fs.readdirSync(this.projectsDir())) {
      const file = path.join(this.projectDir(id), 'state.json');
      if (!fs.existsSync(file)) continue;
      try {
        out.push(this.open(JSON.parse(fs.readFileSync(file, 'utf8')) as StoredProject));
      } catch (err) {
        onError(id, err);
      }
    }
    return out;
  }

  /** Writes a project record atomically. */
  save(project: ProjectRecord): void {
    const dir = this.projectDir(project.id);
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    const stored: StoredProject = {
      ...project,
      deployments: project.deployments.map((d) => ({ ...d, configVars: this.seal(d.configVars) })),
    };
    const tmp = path.join(dir, `.state.json.${process.pid}.tmp`);
    const fd = fs.openSync(tmp, 'w', 0o600);
    try {
      fs.writeSync(fd, JSON.stringify(stored, null, 1));
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, path.join(dir, 'state.json'));
  }

  /** Encrypts config vars. */
  private seal(vars: Record<string, string>): Sealed {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    const data = Buffer.concat([cipher.update(JSON.stringify(vars), 'utf8'), cipher.final()]);
    return {
      iv: iv.toString('base64'),
      tag: cipher.getAuthTag().toString('base64'),
      data: data.toString('base64'),
    };
  }

  /** Decrypts a stored project. */
  private open(stored: StoredProject): ProjectRecord {
    return {
      ...stored,
      deployments: stored.deployments.map((d) => {
        const decipher = createDecipheriv('aes-256-gcm', this.key, Buffer.from(d.configVars.iv, 'base64'));
        decipher.setAuthTag(Buffer.from(d.configVars.tag, 'base64'));
        const text = Buffer.concat([
          decipher.update(Buffer.from(d.configVars.data, 'base64')),
          decipher.final(),
        ]);
        return { ...d, configVars: JSON.parse(text.toString('utf8')) as Record<string, string> };
      }),
    };
  }
}

/** Bytes used by a directory tree (files only; symlinks not followed). */
export function diskUsage(dir: string): number {
  let total = 0;
  let entries: fs.Dirent[] = [];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return 0;
  }
  for (const e of entries) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) total += diskUsage(p);
    else if (e.isFile()) {
      try {
        total += fs.statSync(p).size;
      } catch {
        // removed meanwhile
      }
    }
  }
  return total;
}
