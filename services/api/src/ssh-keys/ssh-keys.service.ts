// SSH public keys of a Client, for git over SSH. Invariant: a key (by fingerprint) belongs to at
// most one Client, so a fingerprint presented to the git controller names exactly one Client; the
// refusal of a duplicate says nothing about who holds it.
import { Injectable } from '@nestjs/common';
import { InvalidArgumentError, NotFoundError } from '@paastech/kit';
import { AuditService } from '../audit/audit.service.js';
import { isoNow, newId } from '../db/ids.js';
import { quote } from '../projects/project-name.js';
import { parseSshPublicKey, type SshPublicKey } from './ssh-key.js';
import { mapSshKey, type SshKeyDto } from './ssh-keys.dto.js';
import { SshKeysRepository } from './ssh-keys.repository.js';

export const SSH_KEY_NAME_MAX = 100;

/** The display name of a key: the given one, else its comment, else its type and fingerprint start. */
export function sshKeyName(given: unknown, key: SshPublicKey): string {
  if (given === undefined || given === null) {
    return (key.comment || `${key.type} ${key.fingerprint.slice(7, 15)}`).slice(0, SSH_KEY_NAME_MAX);
  }
  const name = typeof given === 'string' ? given.trim() : '';
  let problem: string | undefined;
  if (typeof given !== 'string') problem = 'name must be a string';
  else if (name === '') problem = 'name must not be empty';
  else if (name.length > SSH_KEY_NAME_MAX) problem = `name must be at most ${SSH_KEY_NAME_MAX} characters`;
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
  else if (/[\u0000-\u001f\u007f]/.test(name)) problem = 'name must not contain control characters';
  if (problem)
    throw new InvalidArgumentError(`ssh key ${quote(String(given))}: ${problem}`, [
      { field: 'name', message: problem },
    ]);
  return name;
}

@Injectable()
export class SshKeysService {
  constructor(
    private readonly repo: SshKeysRepository,
    private readonly audit: AuditService,
  ) {}

  async list(clientId: string): Promise<SshKeyDto[]> {
    return (await this.repo.listByClient(clientId)).map(mapSshKey);
  }

  async add(clientId: string, publicKey: unknown, name: unknown, ip: string | null): Promise<SshKeyDto> {
    const key = parseSshPublicKey(publicKey);
    const row = {
      id: newId(),
      client_id: clientId,
      name: sshKeyName(name, key),
      public_key: key.openssh,
      fingerprint: key.fingerprint,
      key_type: key.type,
      bits: key.bits,
      created_at: isoNow(),
      last_used_at: null,
    };
    await this.repo.insert(row);
    await this.audit.record(clientId, 'ssh_key.add', `ssh_key:${row.id}`, ip, {
      fingerprint: key.fingerprint,
    });
    return mapSshKey(row);
  }

  /** Removes one of the Client's keys by id or by fingerprint; another Client's key is not found. */
  async remove(clientId: string, idOrFingerprint: string, ip: string | null): Promise<void> {
    // Only ids and fingerprints are looked up; anything else (e.g. a NUL byte) never reaches SQL.
    const lookable = /^([0-9a-f-]{36}|SHA256:[A-Za-z0-9+/]{43})$/.test(idOrFingerprint);
    const row = lookable ? await this.repo.delete(clientId, idOrFingerprint) : undefined;
    if (!row) throw new NotFoundError(`ssh key ${quote(idOrFingerprint)} not found`);
    await this.audit.record(clientId, 'ssh_key.remove', `ssh_key:${row.id}`, ip, {
      fingerprint: row.fingerprint,
    });
  }
}
