import { unwrap } from '@paastech/api-client';
import { defineCommand } from '../../command.js';
import { parseFormation } from '../../formation.js';

export default defineCommand({
  description: 'set how many instances of each process type run (e.g. web=2 worker=1)',
  args: [
    {
      name: 'TYPE=COUNT',
      description: 'process types of the Procfile and their counts',
      required: true,
      variadic: true,
    },
  ],
  examples: ['paastech ps:scale web=2 worker=1 -p shop', 'paastech ps:scale worker=0'],
  json: true,
  requireLogin: true,
  requireProject: true,
  async run(ctx) {
    const formation = parseFormation(ctx.rest);
    const spinner = ctx.out.spinner(`scaling ${ctx.project}`);
    let result: Record<string, number>;
    try {
      ({ formation: result } = await unwrap(
        ctx.api.PUT('/api/v1/projects/{name}/formation', {
          params: { path: { name: ctx.project } },
          body: { formation },
        }),
      ));
    } finally {
      spinner.stop();
    }
    if (ctx.json) ctx.out.json(result);
    else
      ctx.out.line(
        `${ctx.project} now runs ${Object.entries(result)
          .map(([t, n]) => `${t}=${n}`)
          .join(' ')}`,
      );
  },
});
