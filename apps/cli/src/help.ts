// Help texts: the topic list (no arguments), the full reference (--help), and one command's help.
import type { ArgSpec, Command, FlagSpec } from './command.js';
import { TOPICS, topicOf } from './registry.js';

export const GLOBAL_FLAGS: Record<string, FlagSpec> = {
  api: {
    type: 'string',
    description: 'API URL (default: PAASTECH_API_URL, the config file, http://127.0.0.1:3000)',
    placeholder: 'URL',
  },
  debug: {
    type: 'boolean',
    description: 'on errors, print the API’s whole problem document or the stack trace',
  },
  help: { type: 'boolean', short: 'h', description: 'show help' },
};

export const JSON_FLAG: FlagSpec = { type: 'boolean', description: 'print the data as JSON' };
export const PROJECT_FLAG: FlagSpec = {
  type: 'string',
  short: 'p',
  description: 'the project (default: the `paastech` git remote of the current directory)',
  placeholder: 'NAME',
};

const EXIT_CODES = `Exit codes:
  0  success
  1  error (refused by the API, server unreachable, not logged in, …)
  2  usage error (unknown command or flag, missing or extra argument)`;

const ENVIRONMENT = `Environment:
  PAASTECH_API_URL   the API URL (after --api)
  PAASTECH_TOKEN     an API token to use instead of the stored login
  PAASTECH_DEBUG     set (to anything non-empty): as if --debug was given
  XDG_CONFIG_HOME    the config file is $XDG_CONFIG_HOME/paastech/config.json (default ~/.config/paastech)
  NO_COLOR           never print colours (they are only printed on a terminal anyway)`;

/** `paastech` with no arguments: the topics and where to go next. */
export function topicsHelp(names: string[]): string {
  const topics = Object.keys(TOPICS).filter((t) => names.some((n) => topicOf(n) === t));
  const width = Math.max(...topics.map((t) => t.length));
  return [
    'paastech: git push to deploy, on your own PaaSTech server',
    '',
    'Usage: paastech COMMAND [ARGUMENTS] [FLAGS]',
    '',
    'Topics:',
    ...topics.map((t) => `  ${t.padEnd(width)}  ${TOPICS[t]}`),
    '',
    'Run `paastech --help` for every command, `paastech COMMAND --help` for one.',
  ].join('\n');
}

/** `paastech --help`: every command by topic, global flags, exit codes, environment. */
export function fullHelp(commands: Map<string, Command>): string {
  const names = [...commands.keys()];
  const width = Math.max(...names.map((n) => n.length));
  const lines = [
    'paastech: git push to deploy, on your own PaaSTech server',
    '',
    'Usage: paastech COMMAND [ARGUMENTS] [FLAGS]',
    '',
  ];
  for (const topic of Object.keys(TOPICS)) {
    const inTopic = names.filter((n) => topicOf(n) === topic);
    if (inTopic.length === 0) continue;
    lines.push(`${topic}: ${TOPICS[topic]}`);
    for (const n of inTopic) lines.push(`  ${n.padEnd(width)}  ${commands.get(n)!.description}`);
    lines.push('');
  }
  lines.push('Global flags:', ...flagLines(GLOBAL_FLAGS), '', EXIT_CODES, '', ENVIRONMENT);
  return lines.join('\n');
}

/** `paastech NAME --help`. */
export function commandHelp(name: string, command: Command): string {
  const lines = [
    `Usage: paastech ${name}${usageArgs(command.args ?? [])}${hasFlags(command) ? ' [FLAGS]' : ''}`,
    '',
    command.description,
  ];
  if (command.args?.length) {
    lines.push('', 'Arguments:');
    const w = Math.max(...command.args.map((a) => argLabel(a).length));
    for (const a of command.args) lines.push(`  ${argLabel(a).padEnd(w)}  ${a.description}`);
  }
  const flags = commandFlags(command);
  if (Object.keys(flags).length) lines.push('', 'Flags:', ...flagLines(flags));
  lines.push('', 'Global flags:', ...flagLines(GLOBAL_FLAGS));
  if (command.examples?.length) lines.push('', 'Examples:', ...command.examples.map((e) => `  $ ${e}`));
  lines.push('', EXIT_CODES);
  return lines.join('\n');
}

/** The flags a command accepts besides the global ones (its own, -p, --json). */
export function commandFlags(command: Command): Record<string, FlagSpec> {
  return {
    ...(command.requireProject ? { project: PROJECT_FLAG } : {}),
    ...command.flags,
    ...(command.json ? { json: JSON_FLAG } : {}),
  };
}

function hasFlags(command: Command): boolean {
  return Object.keys(commandFlags(command)).length > 0;
}

function argLabel(a: ArgSpec): string {
  return `${a.name}${a.variadic ? '…' : ''}`;
}

function usageArgs(args: ArgSpec[]): string {
  return args.map((a) => ` ${a.required ? argLabel(a) : `[${argLabel(a)}]`}`).join('');
}

function flagLines(flags: Record<string, FlagSpec>): string[] {
  const labels = Object.entries(flags).map(([name, f]) => {
    const short = f.short ? `-${f.short}, ` : '    ';
    return [
      `${short}--${name}${f.type === 'string' ? ` ${f.placeholder ?? 'VALUE'}` : ''}`,
      f.description,
    ] as const;
  });
  const w = Math.max(...labels.map(([l]) => l.length));
  return labels.map(([l, d]) => `  ${l.padEnd(w)}  ${d}`);
}
