import fs from 'node:fs';
import path from 'node:path';
import { unwrap } from '@paastech/api-client';
import { parseAssignments } from '../../assignments.js';
import { defineCommand } from '../../command.js';
import { deployedSuffix, followConfigDeployment, newestDeployment } from '../../follow.js';

export default defineCommand({
  description: 'set config vars in one change, and follow the redeploy it starts',
  args: [
    {
      name: 'KEY=VALUE',
      description: 'vars to set; KEY=@file for a file’s contents, KEY=@@x for "@x"',
      required: true,
      variadic: true,
    },
  ],
  flags: { 'no-wait': { type: 'boolean', description: 'do not wait for the redeploy' } },
  examples: [
    'paastech config:set NODE_ENV=production LOG_LEVEL=info -p shop',
    'paastech config:set TLS_CERT=@cert.pem',
  ],
  json: true,
  requireLogin: true,
  requireProject: true,
  async run(ctx) {
    const set = parseAssignments(ctx.rest, (file) => fs.readFileSync(path.resolve(ctx.cwd, file), 'utf8'));
    const names = Object.keys(set).join(', ');
    const before = await newestDeployment(ctx);
    const spinner = ctx.out.spinner(`setting ${names} on ${ctx.project}`);
    let vars: Record<string, string>;
    try {
      ({ vars } = await unwrap(
        ctx.api.PATCH('/api/v1/projects/{name}/config', {
          params: { path: { name: ctx.project } },
          body: { set },
        }),
      ));
    } finally {
      spinner.stop();
    }
    const deployed = await followConfigDeployment(ctx, before);
    if (ctx.json) ctx.out.json(vars);
    else ctx.out.line(`set ${names} on ${ctx.project}${deployedSuffix(ctx, deployed)}`);
  },
});
