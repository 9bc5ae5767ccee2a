import { printChange, saveBuildpack } from '../../buildpacks.js';
import { defineCommand } from '../../command.js';

export default defineCommand({
  description: 'go back to the built-in builders (auto-detect) from the next deployment on',
  examples: ['paastech buildpacks:clear -p shop'],
  json: true,
  requireLogin: true,
  requireProject: true,
  async run(ctx) {
    const s = await saveBuildpack(ctx, null);
    printChange(ctx, s, `${ctx.project} buildpack cleared: the next deployment auto-detects how to build`);
  },
});
