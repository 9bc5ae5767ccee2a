import { unwrap } from '@paastech/api-client';
import { buildpackJson, describeBuildpack } from '../../buildpacks.js';
import { defineCommand } from '../../command.js';

export default defineCommand({
  description: 'show the buildpack a project builds with (none = auto-detect)',
  examples: ['paastech buildpacks -p shop', 'paastech buildpacks --json'],
  json: true,
  requireLogin: true,
  requireProject: true,
  async run(ctx) {
    const s = await unwrap(
      ctx.api.GET('/api/v1/projects/{name}/settings', { params: { path: { name: ctx.project } } }),
    );
    if (ctx.json) ctx.out.json(buildpackJson(s));
    else ctx.out.line(`${ctx.project} buildpack: ${describeBuildpack(s)}`);
  },
});
