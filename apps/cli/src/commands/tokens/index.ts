import { unwrap } from '@paastech/api-client';
import { defineCommand } from '../../command.js';
import { when } from '../../format.js';

export default defineCommand({
  description: 'list your API tokens (never their secret)',
  examples: ['paastech tokens', 'paastech tokens --json'],
  json: true,
  requireLogin: true,
  async run(ctx) {
    const tokens = await unwrap(ctx.api.GET('/api/v1/tokens'));
    if (ctx.json) return ctx.out.json(tokens);
    ctx.out.table(
      ['ID', 'NAME', 'PREFIX', 'CREATED', 'EXPIRES', 'LAST USED'],
      tokens.map((t) => [
        t.id,
        t.name,
        t.prefix,
        when(t.created_at),
        when(t.expires_at, 'never'),
        when(t.last_used_at, 'never'),
      ]),
      'no tokens: create one with paastech tokens:create NAME',
    );
  },
});
