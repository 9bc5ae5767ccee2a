import { unwrap } from '@paastech/api-client';
import { checkName } from '../../assignments.js';
import { defineCommand } from '../../command.js';
import { UsageError } from '../../errors.js';

export default defineCommand({
  description: 'remove config vars, all in one change',
  args: [{ name: 'KEY', description: 'names of the vars to remove', required: true, variadic: true }],
  examples: ['paastech config:unset OLD_FLAG LEGACY_URL -p shop'],
  json: true,
  requireLogin: true,
  requireProject: true,
  async run(ctx) {
    const unset = [...new Set(ctx.rest)];
    for (const key of unset) {
      if (key.includes('='))
        throw new UsageError(`"${key}": config:unset takes names only (did you mean config:set?)`);
      checkName(key);
    }
    const { vars } = await unwrap(
      ctx.api.PATCH('/api/v1/projects/{name}/config', {
        params: { path: { name: ctx.project } },
        body: { unset },
      }),
    );
    if (ctx.json) ctx.out.json(vars);
    else ctx.out.line(`unset ${unset.join(', ')} on ${ctx.project}`);
  },
});
