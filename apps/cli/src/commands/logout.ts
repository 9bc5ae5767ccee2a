import { createApiClient, unwrap } from '@paastech/api-client';
import type { Context } from '../command.js';
import { defineCommand } from '../command.js';

export default defineCommand({
  description: 'revoke and forget the stored login for the current server',
  examples: ['paastech logout'],
  async run(ctx) {
    const origin = new URL(ctx.apiUrl).origin;
    const stored = ctx.settings().logins?.[origin];
    if (!stored) {
      ctx.out.line(`not logged in to ${ctx.apiUrl}`);
    } else {
      const revoked = await revoke(ctx, stored.token);
      ctx.updateSettings((s) => {
        delete s.logins?.[origin];
      });
      ctx.out.line(`logged out of ${ctx.apiUrl}${revoked ? ' (token revoked)' : ''}`);
      if (!revoked)
        ctx.out.warn('the token could not be revoked on the server: see paastech tokens after logging in');
    }
    if (ctx.env.token) ctx.out.warn('PAASTECH_TOKEN is set: commands keep using it until you unset it');
  },
});

/** Revokes the stored token on the server (found by its displayed prefix); false when that fails. */
async function revoke(ctx: Context, token: string): Promise<boolean> {
  try {
    const api = createApiClient({ baseUrl: ctx.apiUrl, token });
    const tokens = await unwrap(api.GET('/api/v1/tokens'));
    const mine = tokens.filter((t) => t.prefix.length >= 6 && token.startsWith(t.prefix));
    if (mine.length !== 1) return false;
    await unwrap(api.DELETE('/api/v1/tokens/{id}', { params: { path: { id: mine[0]!.id } } }));
    return true;
  } catch {
    return false;
  }
}
