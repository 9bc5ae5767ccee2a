import { unwrap } from '@paastech/api-client';
import { defineCommand } from '../command.js';
import { deviceLogin } from '../device-login.js';
import { readCredentials } from '../login-input.js';
import { cliTokenName, saveLogin } from '../session.js';

export default defineCommand({
  description: 'log in (approve a code in the browser, or --email with a password) and store a token',
  flags: {
    email: { type: 'string', description: 'log in with this e-mail and a password', placeholder: 'EMAIL' },
    'password-stdin': { type: 'boolean', description: 'read the password from stdin (for scripts)' },
  },
  examples: [
    'paastech login',
    'paastech login --api https://paas.example.com',
    'printf %s "$PASSWORD" | paastech login --email ada@example.com --password-stdin',
  ],
  json: true,
  async run(ctx) {
    if (ctx.flags.email === undefined && !ctx.flags['password-stdin']) {
      const { token, email } = await deviceLogin(ctx);
      saveLogin(ctx, token, email);
      if (ctx.json) ctx.out.json({ email });
      else ctx.out.line(`logged in as ${email} on ${ctx.apiUrl}`);
      return;
    }
    const { email, password } = await readCredentials(ctx, { confirm: false });
    const spinner = ctx.out.spinner(`logging in to ${ctx.apiUrl}`);
    try {
      const login = await unwrap(
        ctx.api.POST('/api/v1/auth/login', { body: { email, password, token_name: cliTokenName() } }),
      );
      if (!login.token) throw new Error('the API answered a token login without a token');
      saveLogin(ctx, login.token, login.account.email);
      spinner.stop();
      if (ctx.json) ctx.out.json(login.account);
      else ctx.out.line(`logged in as ${login.account.email} on ${ctx.apiUrl}`);
    } finally {
      spinner.stop();
    }
  },
});
