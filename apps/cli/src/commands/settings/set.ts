import { unwrap } from '@paastech/api-client';
import { defineCommand } from '../../command.js';
import { parseSettings } from '../../project-settings.js';

export default defineCommand({
  description: 'change settings in one change (they apply at the next deployment, egress at once)',
  args: [
    {
      name: 'KEY=VALUE',
      description:
        'health_check_path, builder (auto|node|static|python|procfile), egress (true|false), memory_mb, cpu_millicores, max_processes, disk_mb; "default" resets',
      required: true,
      variadic: true,
    },
  ],
  examples: [
    'paastech settings:set memory_mb=256 cpu_millicores=500 -p shop',
    'paastech settings:set egress=false',
    'paastech settings:set health_check_path=/healthz builder=node',
    'paastech settings:set memory_mb=default',
  ],
  json: true,
  requireLogin: true,
  requireProject: true,
  async run(ctx) {
    const body = parseSettings(ctx.rest);
    const s = await unwrap(
      ctx.api.PATCH('/api/v1/projects/{name}/settings', {
        params: { path: { name: ctx.project } },
        body,
      }),
    );
    if (ctx.json) ctx.out.json(s);
    else ctx.out.line(`updated the settings of ${ctx.project}: ${s.applies}`);
  },
});
