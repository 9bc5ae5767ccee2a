import fs from 'node:fs';
import path from 'node:path';
import { unwrap } from '@paastech/api-client';
import { defineCommand } from '../../command.js';
import { CliError } from '../../errors.js';

const DEFAULT_KEYS = ['id_ed25519.pub', 'id_ecdsa.pub', 'id_rsa.pub'];

export default defineCommand({
  description: 'add an SSH public key so you can git push over SSH',
  args: [
    {
      name: 'FILE',
      description: 'the .pub file (default: ~/.ssh/id_ed25519.pub, then id_ecdsa.pub, id_rsa.pub)',
    },
  ],
  flags: {
    name: { type: 'string', description: 'a name for the key (default: its comment)', placeholder: 'NAME' },
  },
  examples: ['paastech keys:add', 'paastech keys:add ~/.ssh/work.pub --name laptop'],
  json: true,
  requireLogin: true,
  async run(ctx) {
    const file = ctx.args.FILE ? path.resolve(ctx.cwd, ctx.args.FILE) : defaultKey(ctx.env.home);
    const publicKey = readPublicKey(file);
    const name = ctx.flags.name as string | undefined;
    const key = await unwrap(
      ctx.api.POST('/api/v1/ssh-keys', { body: { public_key: publicKey, ...(name ? { name } : {}) } }),
    );
    if (ctx.json) ctx.out.json(key);
    else ctx.out.line(`added ${key.type} key ${key.fingerprint}${key.name ? ` (${key.name})` : ''}`);
  },
});

/** The first default public key that exists in ~/.ssh. */
function defaultKey(home: string): string {
  for (const name of DEFAULT_KEYS) {
    const file = path.join(home, '.ssh', name);
    if (fs.existsSync(file)) return file;
  }
  throw new CliError(
    `no public key found in ${path.join(home, '.ssh')} (looked for ${DEFAULT_KEYS.join(', ')})`,
    'create one with ssh-keygen -t ed25519, or pass the .pub file',
  );
}

/** Reads a public key file; never sends a private key by mistake. */
function readPublicKey(file: string): string {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new CliError(`cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  if (/PRIVATE KEY/.test(text)) {
    throw new CliError(
      `${file} is a private key: it never leaves your machine`,
      `pass the public key (${file}.pub)`,
    );
  }
  return text.trim();
}
