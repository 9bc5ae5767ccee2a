import { defineCommand } from '../../command.js';

export default defineCommand({
  description: 'print the API token in use (PAASTECH_TOKEN, or the one stored by login)',
  examples: ['curl -H "Authorization: Bearer $(paastech auth:token)" http://127.0.0.1:3000/api/v1/account'],
  requireLogin: true,
  async run(ctx) {
    ctx.out.line(ctx.token);
  },
});
