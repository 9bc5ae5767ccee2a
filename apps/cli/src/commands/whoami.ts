import { unwrap } from '@paastech/api-client';
import { defineCommand } from '../command.js';

export default defineCommand({
  description: 'show the account you are logged in as',
  examples: ['paastech whoami'],
  json: true,
  requireLogin: true,
  async run(ctx) {
    const account = await unwrap(ctx.api.GET('/api/v1/account'));
    if (ctx.json) ctx.out.json(account);
    else ctx.out.line(account.email);
  },
});
