// Procfile parsing (pure). A Procfile maps process types to commands, one `type: command` per line;
// `release` is the one-off command run before traffic switches, not a long-running process.
import { InvalidArgumentError } from '@paastech/kit';

/** What a Procfile declares. */
export interface Procfile {
  /** Long-running process types → their shell command, in file order. */
  processes: Record<string, string>;
  /** The release command, when declared. */
  release?: string;
}

const TYPE_NAME = /^[a-z0-9][a-z0-9_-]{0,29}$/i;
const MAX_COMMAND = 4096;

/** Turns one violation into the error a person sees, naming the line. */
function lineError(lineNo: number, message: string): InvalidArgumentError {
  const text = `Procfile line ${lineNo}: ${message}`;
  return new InvalidArgumentError(text, [{ field: `Procfile:${lineNo}`, message }]);
}

/** Quotes user text for an error message, shortened so a huge line cannot flood the output. */
function quote(text: string): string {
  const short = text.length > 60 ? `${text.slice(0, 57)}...` : text;
  return JSON.stringify(short);
}

/** Parses the text of a Procfile; throws InvalidArgumentError naming the first bad line. */
export function parseProcfile(text: string): Procfile {
  const processes: Record<string, string> = {};
  let release: string | undefined;
  const lines = text.replace(/^\uFEFF/, '').split('\n');
  for (const [i, raw] of lines.entries()) {
    const lineNo = i + 1;
    const line = raw.replace(/\r$/, '').trim();
    if (line === '' || line.startsWith('#')) continue;
    const colon = line.indexOf(':');
    if (colon < 0) throw lineError(lineNo, `${quote(line)}: expected "<type>: <command>"`);
    const name = line.slice(0, colon).trim();
    const command = line.slice(colon + 1).trim();
    if (!TYPE_NAME.test(name)) {
      throw lineError(
        lineNo,
        `process type ${quote(name)} must be 1-30 of a-z, 0-9, _, - (starting with a-z or 0-9)`,
      );
    }
    if (command === '') throw lineError(lineNo, `process type "${name}" has no command`);
    if (command.length > MAX_COMMAND)
      throw lineError(lineNo, `command is longer than ${MAX_COMMAND} characters`);
    if (command.includes('\0')) throw lineError(lineNo, 'command contains a NUL byte');
    const key = name.toLowerCase();
    if (key === 'release') {
      if (release !== undefined) throw lineError(lineNo, 'process type "release" is declared twice');
      release = command;
    } else {
      if (Object.hasOwn(processes, key)) throw lineError(lineNo, `process type "${key}" is declared twice`);
      processes[key] = command;
    }
  }
  return release === undefined ? { processes } : { processes, release };
}

/** Characters of a command that is one plain simple command (no operator, redirection or grouping). */
const PLAIN_COMMAND = /^[A-Za-z0-9_./:=,+@%$"'-]+( +[A-Za-z0-9_./:=,+@%$"'-]+)*$/;
/** Words `exec` cannot run as a program: shell keywords and built-ins (POSIX and dash's own). */
const SHELL_WORDS = new Set(
  (
    '! { } case do done elif else esac fi for if in then until while . : [ [[ alias bg break cd chdir ' +
    'command continue echo eval exec exit export false fg getopts hash jobs kill local newgrp printf ' +
    'pwd read readonly return set shift test times trap true type ulimit umask unalias unset wait ' +
    // bash's own, should /bin/sh be bash
    'bind builtin caller coproc declare dirs disown enable function help history let logout mapfile ' +
    'popd pushd readarray select shopt source suspend time typeset'
  ).split(' '),
);

/**
 * The command as `sh -c` should run it: a plain simple command (`node server.js`, `gunicorn -b
 * 0.0.0.0:$PORT app:app`) gets `exec ` in front, so the shell becomes the app instead of forking it
 * and waiting (dash does not do that by itself): one process fewer per instance, one fork fewer on
 * the way to traffic, and the stop signal reaches the app itself. Anything else — operators,
 * redirections, globs, a leading `NAME=value`, a built-in or a program named by an expansion — runs
 * as written.
 */
export function execForm(command: string): string {
  if (!PLAIN_COMMAND.test(command)) return command;
  const first = command.split(' ', 1)[0] as string;
  // The program must be a literal word: `$X`, `'cd'` or `NAME=value` could be a built-in or none.
  if (/[=$"']/.test(first) || SHELL_WORDS.has(first)) return command;
  return `exec ${command}`;
}
