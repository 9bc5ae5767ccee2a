import { describeBuildpack, loadSettings, printChange } from '../../buildpacks.js';
import { defineCommand } from '../../command.js';

export default defineCommand({
  description: 'show the buildpack a project builds with (none = auto-detect)',
  examples: ['paastech buildpacks -p shop', 'paastech buildpacks --json'],
  json: true,
  requireLogin: true,
  requireProject: true,
  async run(ctx) {
    const s = await loadSettings(ctx);
    printChange(ctx, s, `${ctx.project} buildpack: ${describeBuildpack(s)}`);
  },
});
