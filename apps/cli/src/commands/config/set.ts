import fs from 'node:fs';
import path from 'node:path';
import { unwrap } from '@paastech/api-client';
import { parseAssignments } from '../../assignments.js';
import { defineCommand } from '../../command.js';

export default defineCommand({
  description: 'set config vars, all in one change (KEY=@file reads the value from a file)',
  args: [
    {
      name: 'KEY=VALUE',
      description: 'vars to set; KEY=@file for a file’s contents, KEY=@@x for "@x"',
      required: true,
      variadic: true,
    },
  ],
  examples: [
    'paastech config:set NODE_ENV=production LOG_LEVEL=info -p shop',
    'paastech config:set TLS_CERT=@cert.pem',
  ],
  json: true,
  requireLogin: true,
  requireProject: true,
  async run(ctx) {
    const set = parseAssignments(ctx.rest, (file) => fs.readFileSync(path.resolve(ctx.cwd, file), 'utf8'));
    const spinner = ctx.out.spinner(`setting ${Object.keys(set).join(', ')} on ${ctx.project}`);
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
    if (ctx.json) ctx.out.json(vars);
    else ctx.out.line(`set ${Object.keys(set).join(', ')} on ${ctx.project}`);
  },
});
