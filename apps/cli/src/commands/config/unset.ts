import { unwrap } from '@paastech/api-client';
import { checkName } from '../../assignments.js';
import { defineCommand } from '../../command.js';
import { UsageError } from '../../errors.js';
import { deployedSuffix, followConfigDeployment, newestDeployment } from '../../follow.js';

export default defineCommand({
  description: 'remove config vars in one change, and follow the redeploy it starts',
  args: [{ name: 'KEY', description: 'names of the vars to remove', required: true, variadic: true }],
  flags: { 'no-wait': { type: 'boolean', description: 'do not wait for the redeploy' } },
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
    const before = await newestDeployment(ctx);
    const { vars } = await unwrap(
      ctx.api.PATCH('/api/v1/projects/{name}/config', {
        params: { path: { name: ctx.project } },
        body: { unset },
      }),
    );
    const deployed = await followConfigDeployment(ctx, before);
    if (ctx.json) ctx.out.json(vars);
    else ctx.out.line(`unset ${unset.join(', ')} on ${ctx.project}${deployedSuffix(ctx, deployed)}`);
  },
});
