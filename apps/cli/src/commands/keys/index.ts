import { unwrap } from '@paastech/api-client';
import { defineCommand } from '../../command.js';
import { when } from '../../format.js';

export default defineCommand({
  description: 'list the SSH public keys that may push as you',
  examples: ['paastech keys', 'paastech keys --json'],
  json: true,
  requireLogin: true,
  async run(ctx) {
    const { ssh_keys: keys } = await unwrap(ctx.api.GET('/api/v1/ssh-keys'));
    if (ctx.json) {
      ctx.out.json(keys);
      return;
    }
    ctx.out.table(
      ['FINGERPRINT', 'TYPE', 'BITS', 'NAME', 'ADDED', 'LAST USED'],
      keys.map((k) => [
        k.fingerprint,
        k.type,
        String(k.bits),
        k.name,
        when(k.created_at),
        when(k.last_used_at, 'never'),
      ]),
      'no SSH keys: add yours with paastech keys:add',
    );
  },
});
