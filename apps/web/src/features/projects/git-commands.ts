// The exact commands a person pastes to push to a new project, for HTTPS and SSH. URLs come from
// the API; they are still shell-quoted when they hold anything a shell would interpret.

/** The branch whose pushes deploy (the git controller's default HEAD). */
export const DEPLOY_BRANCH = 'main';
/** The remote name the CLI (`paastech git:remote`) uses too. */
export const REMOTE_NAME = 'paastech';

/** Quotes `value` for a POSIX shell unless it only holds characters that need no quoting. */
export function shellQuote(value: string): string {
  if (value !== '' && /^[A-Za-z0-9@%+=:,./_-]+$/.test(value)) return value;
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** `git remote add` + `git push` lines for one clone URL. */
export function pushCommands(cloneUrl: string): string[] {
  return [
    `git remote add ${REMOTE_NAME} ${shellQuote(cloneUrl)}`,
    `git push ${REMOTE_NAME} ${DEPLOY_BRANCH}`,
  ];
}
