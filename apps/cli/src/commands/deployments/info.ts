import { unwrap } from '@paastech/api-client';
import { defineCommand } from '../../command.js';
import { when } from '../../format.js';
import { parseDeploymentNumber } from '../../formation.js';

export default defineCommand({
  description: 'show one deployment with its build output',
  args: [{ name: 'VERSION', description: 'the deployment, e.g. v3', required: true }],
  examples: ['paastech deployments:info v3 -p shop'],
  json: true,
  requireLogin: true,
  requireProject: true,
  async run(ctx) {
    const number = String(parseDeploymentNumber(ctx.args.VERSION!));
    const d = await unwrap(
      ctx.api.GET('/api/v1/projects/{name}/deployments/{number}', {
        params: { path: { name: ctx.project, number } },
      }),
    );
    if (ctx.json) {
      ctx.out.json(d);
      return;
    }
    ctx.out.line(
      `${ctx.out.style('bold', `v${d.number}`)} ${d.state}${d.failure_reason ? `: ${d.failure_reason}` : ''}`,
    );
    ctx.out.line(`  commit     ${d.commit_sha} (${d.ref_name})`);
    ctx.out.line(`  reason     ${d.reason}`);
    const formation = Object.entries(d.formation)
      .map(([t, n]) => `${t}=${n}`)
      .join(' ');
    ctx.out.line(`  formation  ${formation || 'web=1 (default)'}`);
    ctx.out.line(`  created    ${when(d.created_at)}`);
    ctx.out.line(`  started    ${when(d.started_at)}`);
    ctx.out.line(`  finished   ${when(d.finished_at)}`);
    ctx.out.line('');
    ctx.out.line(d.build_output ? d.build_output.replace(/\n$/, '') : '(no build output)');
  },
});
