import { unwrap } from '@paastech/api-client';
import { defineCommand } from '../../command.js';

export default defineCommand({
  description: 'stop routing a hostname to a project',
  args: [{ name: 'HOST', description: 'the hostname to remove', required: true }],
  examples: ['paastech domains:remove www.example.com -p shop'],
  requireLogin: true,
  requireProject: true,
  async run(ctx) {
    const hostname = ctx.args.HOST!;
    await unwrap(
      ctx.api.DELETE('/api/v1/projects/{name}/domains/{hostname}', {
        params: { path: { name: ctx.project, hostname } },
      }),
    );
    ctx.out.line(`removed ${hostname} from ${ctx.project}`);
  },
});
