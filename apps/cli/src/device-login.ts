// `paastech login` without a password: the device-authorization flow (RFC 8628 shape). The CLI gets a
// user code, the Client approves it in the dashboard, the CLI polls until it gets its token.
import { ApiError, createApiClient, unwrap } from '@paastech/api-client';
import { openBrowser } from './browser.js';
import type { Context } from './command.js';
import { CliError } from './errors.js';

/** Waits `ms` milliseconds. */
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Runs the device flow; resolves with the new token and the account it belongs to. */
export async function deviceLogin(ctx: Context): Promise<{ token: string; email: string }> {
  const start = await unwrap(ctx.api.POST('/api/v1/auth/device'));
  ctx.out.info(
    `To log in, open ${start.verification_uri} and enter the code: ${ctx.out.style('bold', start.user_code)}`,
  );
  ctx.out.info(`(or open ${start.verification_uri_complete})`);
  if (await openBrowser(start.verification_uri_complete, ctx.env.hasDisplay))
    ctx.out.info('opened your browser');
  const spinner = ctx.out.spinner('waiting for you to approve the code in the browser');
  try {
    const token = await poll(ctx, start.device_code, start.interval, start.expires_in);
    const account = await unwrap(createApiClient({ baseUrl: ctx.apiUrl, token }).GET('/api/v1/account'));
    return { token, email: account.email };
  } finally {
    spinner.stop();
  }
}

/** Polls the token endpoint at the server's pace until approval, denial or expiry. */
async function poll(ctx: Context, deviceCode: string, interval: number, expiresIn: number): Promise<string> {
  const deadline = Date.now() + expiresIn * 1000;
  let waitSeconds = Math.max(1, interval);
  while (Date.now() < deadline) {
    await sleep(waitSeconds * 1000);
    try {
      const answer = await unwrap(
        ctx.api.POST('/api/v1/auth/device/token', { body: { device_code: deviceCode } }),
      );
      return answer.access_token;
    } catch (err) {
      const code = err instanceof ApiError ? err.problem.error : undefined;
      if (code === 'authorization_pending') continue;
      if (code === 'slow_down') waitSeconds += 5;
      else if (code === 'access_denied') throw new CliError('the login was denied in the browser');
      else if (code === 'expired_token') break;
      else throw err;
    }
  }
  throw new CliError('the code expired before it was approved', 'run paastech login again');
}
