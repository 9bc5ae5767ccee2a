import { unwrap } from '@paastech/api-client';
import { defineCommand } from '../../command.js';

export default defineCommand({
  description: 'remove an SSH key (it can no longer push)',
  args: [
    {
      name: 'FINGERPRINT',
      description: 'the key’s SHA256:… fingerprint or id (see paastech keys)',
      required: true,
    },
  ],
  examples: ['paastech keys:remove SHA256:nThbg6kXUpJWGl7E1IGOCspRomTxdCARLviKw6E5SY8'],
  requireLogin: true,
  async run(ctx) {
    const key = ctx.args.FINGERPRINT!;
    await unwrap(ctx.api.DELETE('/api/v1/ssh-keys/{key}', { params: { path: { key } } }));
    ctx.out.line(`removed key ${key}`);
  },
});
