import { unwrap } from '@paastech/api-client';
import { defineCommand } from '../../command.js';

export default defineCommand({
  description: 'revoke an API token (effective on its next use)',
  args: [{ name: 'ID', description: 'the token id (see paastech tokens)', required: true }],
  examples: ['paastech tokens:revoke 019ac5e2-7c1a-7d3e-9a51-0c2f3e4d5a6b'],
  requireLogin: true,
  async run(ctx) {
    const id = ctx.args.ID!;
    await unwrap(ctx.api.DELETE('/api/v1/tokens/{id}', { params: { path: { id } } }));
    ctx.out.line(`revoked token ${id}`);
  },
});
