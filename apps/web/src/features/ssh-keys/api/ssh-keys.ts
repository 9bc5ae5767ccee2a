// The account's SSH public keys, for git over SSH.
import { api, type Schemas, unwrap } from '../../../shared/api.js';

export type SshKey = Schemas['SshKeyDto'];

/** The account's keys. */
export async function listSshKeys(): Promise<SshKey[]> {
  return (await unwrap(api.GET('/api/v1/ssh-keys'))).ssh_keys;
}

/** Adds an OpenSSH public key line (the .pub file); name defaults to the key's comment. */
export function addSshKey(publicKey: string, name?: string): Promise<SshKey> {
  const body = name ? { public_key: publicKey, name } : { public_key: publicKey };
  return unwrap(api.POST('/api/v1/ssh-keys', { body }));
}

/** Removes a key by id or fingerprint. */
export async function removeSshKey(key: string): Promise<void> {
  await unwrap(api.DELETE('/api/v1/ssh-keys/{key}', { params: { path: { key } } }));
}
