import { unwrap } from '@paastech/api-client';
import { defineCommand } from '../command.js';
import { readCredentials } from '../login-input.js';
import { cliTokenName, saveLogin } from '../session.js';

export default defineCommand({
  description: 'create a PaaSTech account and log in',
  flags: {
    email: { type: 'string', description: 'your e-mail address (asked when omitted)', placeholder: 'EMAIL' },
    'password-stdin': { type: 'boolean', description: 'read the password from stdin (for scripts)' },
  },
  examples: [
    'paastech signup',
    'printf %s "$PASSWORD" | paastech signup --email ada@example.com --password-stdin',
  ],
  json: true,
  async run(ctx) {
    const { email, password } = await readCredentials(ctx, { confirm: true });
    const account = await unwrap(ctx.api.POST('/api/v1/auth/signup', { body: { email, password } }));
    const login = await unwrap(
      ctx.api.POST('/api/v1/auth/login', { body: { email, password, token_name: cliTokenName() } }),
    );
    if (!login.token) throw new Error('the API answered a token login without a token');
    saveLogin(ctx, login.token, account.email);
    if (ctx.json) ctx.out.json(account);
    else ctx.out.line(`signed up and logged in as ${account.email} on ${ctx.apiUrl}`);
  },
});
