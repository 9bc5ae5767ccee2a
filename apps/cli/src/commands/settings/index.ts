import { loadSettings } from '../../buildpacks.js';
import { defineCommand } from '../../command.js';

export default defineCommand({
  description: 'show a project’s settings: health check path, builder, buildpack, egress, limits',
  examples: ['paastech settings -p shop', 'paastech settings --json'],
  json: true,
  requireLogin: true,
  requireProject: true,
  async run(ctx) {
    const s = await loadSettings(ctx);
    if (ctx.json) {
      ctx.out.json(s);
      return;
    }
    const or = (v: number | string | null, unit = '') => (v === null ? 'platform default' : `${v}${unit}`);
    const rows: [string, string][] = [
      ['health_check_path', s.health_check_path ?? 'none (the port accepting connections)'],
      ['builder', s.builder],
      ['buildpack', s.buildpack ?? 'none (auto-detect)'],
      ['egress', s.egress ? 'true (the outside world is reachable)' : 'false (cut off)'],
      ['memory_mb', or(s.limits.memory_mb)],
      ['cpu_millicores', or(s.limits.cpu_millicores)],
      ['max_processes', or(s.limits.max_processes)],
      ['disk_mb', or(s.limits.disk_mb)],
    ];
    for (const [k, v] of rows) ctx.out.line(`${ctx.out.style('cyan', k.padEnd(17))}  ${v}`);
  },
});
