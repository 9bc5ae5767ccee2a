// Logging in stores a token for one API origin (and makes that API the default).
import os from 'node:os';
import type { Context } from './command.js';

/** The name of the API token the CLI creates when logging in, so `paastech tokens` shows where it lives. */
export function cliTokenName(): string {
  return `paastech CLI on ${os.hostname()}`.slice(0, 100);
}

/** Stores `token` as the login for the context's API, and that API as the default. */
export function saveLogin(ctx: Context, token: string, email: string | undefined): void {
  const origin = new URL(ctx.apiUrl).origin;
  ctx.updateSettings((s) => {
    s.apiUrl = ctx.apiUrl;
    s.logins = { ...s.logins, [origin]: { token, ...(email ? { email } : {}) } };
  });
}

/** Remembers that git over HTTP at `gitOrigin` belongs to the context's API (for git:credential). */
export function rememberGitHost(ctx: Context, gitOrigin: string): void {
  const apiOrigin = new URL(ctx.apiUrl).origin;
  ctx.updateSettings((s) => {
    s.gitHosts = { ...s.gitHosts, [gitOrigin]: apiOrigin };
  });
}
