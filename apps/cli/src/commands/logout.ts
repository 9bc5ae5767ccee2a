import { defineCommand } from '../command.js';

export default defineCommand({
  description: 'forget the stored login for the current server',
  examples: ['paastech logout'],
  async run(ctx) {
    const origin = new URL(ctx.apiUrl).origin;
    const had = ctx.settings().logins?.[origin] !== undefined;
    if (had) {
      ctx.updateSettings((s) => {
        delete s.logins?.[origin];
      });
    }
    ctx.out.line(had ? `logged out of ${ctx.apiUrl}` : `not logged in to ${ctx.apiUrl}`);
    if (ctx.env.token) ctx.out.warn('PAASTECH_TOKEN is set: commands keep using it until you unset it');
  },
});
