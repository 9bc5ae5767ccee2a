// E-mail and password for signup and login: from --email and --password-stdin (scripts), or asked on
// the terminal (the password without echo).
import type { Context } from './command.js';
import { CliError, UsageError } from './errors.js';

/** Reads the e-mail and password; `confirm` asks for the password twice (sign-up). */
export async function readCredentials(
  ctx: Context,
  options: { confirm: boolean },
): Promise<{ email: string; password: string }> {
  const hint = 'pass --email EMAIL --password-stdin';
  const email =
    (ctx.flags.email as string | undefined) ?? (await ctx.prompt('E-mail: ', { flagHint: hint })).trim();
  if (!email) throw new UsageError(`${ctx.id}: an e-mail address is required`);
  let password: string;
  if (ctx.flags['password-stdin']) {
    password = (await ctx.readStdin()).replace(/\r?\n$/, '');
  } else {
    password = await ctx.prompt('Password: ', { hidden: true, flagHint: hint });
    if (
      options.confirm &&
      (await ctx.prompt('Password again: ', { hidden: true, flagHint: hint })) !== password
    ) {
      throw new CliError('the passwords do not match');
    }
  }
  if (!password) throw new UsageError(`${ctx.id}: the password is empty`);
  return { email, password };
}
