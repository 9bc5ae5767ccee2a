// Showing a project, and connecting the local repository to it (remote + credential helper).
import type { Schemas } from '@paastech/api-client';
import type { Context } from './command.js';
import { originOf } from './credential.js';
import { configureCredentialHelper, helperCommand, insideRepository, REMOTE, setRemote } from './git.js';
import { rememberGitHost } from './session.js';

export type Project = Schemas['ProjectDto'];

/** Prints a project's URLs as aligned lines. */
export function printProject(ctx: Context, p: Project): void {
  ctx.out.line(`${ctx.out.style('bold', p.name)}`);
  ctx.out.line(`  app        ${p.app_url}`);
  ctx.out.line(`  git HTTPS  ${p.git.http_url}`);
  ctx.out.line(`  git SSH    ${p.git.ssh_url ?? '(this server serves no SSH)'}`);
  ctx.out.line(`  created    ${p.created_at}`);
}

/**
 * Points the cwd's `paastech` remote at the project's HTTPS URL and makes git ask this CLI for the
 * token, for that git host only. Returns what happened to the remote.
 */
export async function connectRepository(
  ctx: Context,
  p: Project,
  url: string = p.git.http_url,
): Promise<'added' | 'updated' | 'unchanged'> {
  const change = await setRemote(ctx.cwd, url);
  if (url !== p.git.http_url) return change; // over SSH, git authenticates with the user's key
  const gitOrigin = originOf(p.git.http_url);
  await configureCredentialHelper(ctx.cwd, gitOrigin, helperCommand(process.execPath, process.argv[1]!));
  rememberGitHost(ctx, gitOrigin);
  return change;
}

/** Connects the repository when cwd is inside one, and says so (on stderr, which --json leaves alone). */
export async function connectIfInRepository(ctx: Context, p: Project): Promise<boolean> {
  if (!(await insideRepository(ctx.cwd))) return false;
  const change = await connectRepository(ctx, p);
  ctx.out.info(
    `git remote ${REMOTE} ${change === 'unchanged' ? 'already points at' : `${change}:`} ${p.git.http_url}`,
  );
  ctx.out.info(`deploy with: git push ${REMOTE} main`);
  return true;
}
