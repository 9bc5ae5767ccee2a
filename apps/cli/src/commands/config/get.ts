import { unwrap } from '@paastech/api-client';
import { checkName } from '../../assignments.js';
import { defineCommand } from '../../command.js';
import { CliError } from '../../errors.js';

export default defineCommand({
  description: 'print the value of one config var',
  args: [{ name: 'KEY', description: 'the config var name', required: true }],
  examples: ['paastech config:get DATABASE_URL -p shop'],
  requireLogin: true,
  requireProject: true,
  async run(ctx) {
    const key = ctx.args.KEY!;
    checkName(key);
    const { vars } = await unwrap(
      ctx.api.GET('/api/v1/projects/{name}/config', { params: { path: { name: ctx.project } } }),
    );
    if (!Object.hasOwn(vars, key)) {
      throw new CliError(
        `config var "${key}" is not set on project "${ctx.project}"`,
        `list them with paastech config -p ${ctx.project}`,
      );
    }
    ctx.out.line(vars[key]);
  },
});
