import { describeBuildpack, printChange, saveBuildpack } from '../../buildpacks.js';
import { defineCommand } from '../../command.js';

export default defineCommand({
  description: 'build with a custom buildpack from the next deployment on (git push to deploy it)',
  args: [
    {
      name: 'BUILDPACK',
      description:
        'the name of a buildpack installed on this platform, or an https:// git URL (optionally #branch or #tag)',
      required: true,
    },
  ],
  examples: [
    'paastech buildpacks:set custom-buildpack -p shop',
    'paastech buildpacks:set https://github.com/heroku/heroku-buildpack-python',
    'paastech buildpacks:set https://git.example.com/team/bp.git#v2',
  ],
  json: true,
  requireLogin: true,
  requireProject: true,
  async run(ctx) {
    const s = await saveBuildpack(ctx, ctx.args.BUILDPACK!);
    printChange(
      ctx,
      s,
      `${ctx.project} buildpack set to ${describeBuildpack(s)}; it builds the next deployment (git push to deploy)`,
    );
  },
});
