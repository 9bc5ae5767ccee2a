// git's credential helper (configured by git:remote): answers `get` for the git hosts of servers we
// are logged in to, with the stored token as the password, and nothing for any other host.
import { defineCommand } from '../../command.js';
import { formatCredential, parseCredentialRequest, requestOrigin } from '../../credential.js';
import { UsageError } from '../../errors.js';

export default defineCommand({
  description: 'git credential helper: gives git the token for our git host (set up by git:remote)',
  args: [{ name: 'ACTION', description: 'get, store or erase (git passes it)', required: true }],
  examples: ['git config credential.http://127.0.0.1:3001.helper "!paastech git:credential"'],
  async run(ctx) {
    const action = ctx.args.ACTION;
    if (action !== 'get' && action !== 'store' && action !== 'erase') {
      throw new UsageError(`git:credential: unknown action "${action}" (expected get, store or erase)`);
    }
    const request = parseCredentialRequest(await ctx.readStdin());
    if (action !== 'get') return; // the token lives in our config file; git has nothing to store or erase
    const origin = requestOrigin(request);
    const settings = ctx.settings();
    const apiOrigin = origin ? settings.gitHosts?.[origin] : undefined;
    if (!apiOrigin) return;
    // PAASTECH_TOKEN belongs to the current API only; never hand it to another server's git host.
    const envToken = apiOrigin === new URL(ctx.apiUrl).origin ? ctx.env.token : undefined;
    const token = envToken ?? settings.logins?.[apiOrigin]?.token;
    if (token) ctx.out.line(formatCredential('paastech', token).trimEnd());
  },
});
