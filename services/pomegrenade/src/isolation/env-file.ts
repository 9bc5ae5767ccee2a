// The environment of a sandboxed process, delivered as a file instead of through the processes
// that build the sandbox. Invariant: sh, nsenter, bwrap and setpriv — which run as root — see no
// variable the project chose (bash starts the chain with OUTER_ENV and execs it with none) (LD_PRELOAD, LD_LIBRARY_PATH, GLIBC_TUNABLES, PATH
// … in a root process would run the tenant's code with the platform's privileges). The project's
// variables are written to a file bwrap places read-only inside the sandbox, and a constant script,
// already running as the project's uid, loads it and executes the command.

/** Where the file appears inside the sandbox. */
export const ENV_FILE = '/run/paastech/env';

/** The only environment of the root processes that set up the sandbox. */
export const OUTER_ENV: Readonly<Record<string, string>> = {
  PATH: '/usr/sbin:/usr/bin:/sbin:/bin',
};

/** Runs as the project's uid: loads the environment, then becomes the command (`sh -c S sh argv…`). */
export const LOAD_ENV_SCRIPT = `. ${ENV_FILE} && exec "$@"`;

/**
 * The shell variable (not exported: the command never sees it) that carries the argv of a sandbox
 * prepared before its command was known, as single-quoted words (see argvLine). The PAASTECH_
 * prefix is the platform's: no project variable has it.
 */
export const ARGV_VARIABLE = 'PAASTECH_ARGV';

/**
 * Set (not exported) by the env file's very last line: a file cut short (the daemon killed while
 * writing it) never runs a truncated command, even one cut where the shell could still parse it.
 */
export const ARGV_END_VARIABLE = 'PAASTECH_ARGV_END';

/** LOAD_ENV_SCRIPT for a prepared sandbox: the argv comes in the file, after the environment. */
export const LOAD_ENV_AND_ARGV_SCRIPT = `. ${ENV_FILE} && [ "$${ARGV_END_VARIABLE}" = 1 ] && eval "exec $${ARGV_VARIABLE}"`;

/**
 * The env file of a prepared sandbox: the environment, `PAASTECH_ARGV='w1' 'w2' …` (each word
 * literal) and the end mark, all inside one `if` block — the shell parses a compound command whole
 * before running any of it, so a file cut anywhere runs nothing (not even a cut `export`, which
 * could name another program), and the end mark is checked before the argv is.
 */
export function preparedEnvFileText(env: Record<string, string>, argv: string[]): string {
  const quoted = argv.map(shellQuote).join(' ');
  return `if :; then\n${envFileText(env)}${ARGV_VARIABLE}=${shellQuote(quoted)}\n${ARGV_END_VARIABLE}=1\nfi\n`;
}

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** The file's text: one `export NAME='value'` per variable (pure; names sh cannot export are left out). */
export function envFileText(env: Record<string, string>): string {
  let out = '';
  for (const [name, value] of Object.entries(env)) {
    if (!NAME.test(name)) continue;
    out += `export ${name}=${shellQuote(value)}\n`;
  }
  return out;
}

/** `value` as one single-quoted sh word. */
function shellQuote(value: string): string {
  return `'${value.replaceAll("'", "'\\''")}'`;
}
