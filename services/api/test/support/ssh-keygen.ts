// Real OpenSSH public keys for tests, made by ssh-keygen in a temp dir removed at exit.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

let dir: string | undefined;
let n = 0;

/** A fresh public key line (`type base64 comment`) made by the real ssh-keygen. */
export function newPublicKey(type = 'ed25519', comment = 'me@laptop'): string {
  if (!dir) {
    const created = fs.mkdtempSync(path.join(os.tmpdir(), 'paastech-keys-'));
    dir = created;
    process.once('exit', () => fs.rmSync(created, { recursive: true, force: true }));
  }
  const file = path.join(dir, `k${n++}`);
  execFileSync('ssh-keygen', ['-q', '-N', '', '-t', type, '-C', comment, '-f', file]);
  return fs.readFileSync(`${file}.pub`, 'utf8');
}
