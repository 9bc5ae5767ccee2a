import { unwrap } from '@paastech/api-client';
import { defineCommand } from '../../command.js';
import { CliError } from '../../errors.js';

export default defineCommand({
  description: 'delete a project: its repository, app, config vars and domains (no undo)',
  args: [{ name: 'NAME', description: 'the project to delete', required: true }],
  flags: {
    confirm: { type: 'string', description: 'the project name again, to confirm', placeholder: 'NAME' },
  },
  examples: ['paastech projects:delete shop --confirm shop'],
  requireLogin: true,
  async run(ctx) {
    const name = ctx.args.NAME!;
    const confirm =
      (ctx.flags.confirm as string | undefined) ??
      (await ctx.prompt(`This deletes ${name} for good. Type its name to confirm: `, {
        flagHint: `pass --confirm ${name}`,
      }));
    if (confirm !== name) {
      throw new CliError(
        `confirmation "${confirm}" does not match project "${name}"`,
        `pass --confirm ${name}`,
      );
    }
    const spinner = ctx.out.spinner(`deleting ${name}`);
    try {
      await unwrap(ctx.api.DELETE('/api/v1/projects/{name}', { params: { path: { name } } }));
    } finally {
      spinner.stop();
    }
    ctx.out.line(`deleted project ${name}`);
  },
});
