// The runner: finds the command, parses its flags, checks its preconditions, runs it, and maps every
// failure to one line plus a hint and an exit code (0 ok, 1 error, 2 usage).
import { parseArgs } from 'node:util';
import { ApiError, createApiClient } from '@paastech/api-client';
import type { Command, Context, FlagValues } from './command.js';
import type { CliEnvironment } from './config.js';
import {
  CliError,
  EXIT_OK,
  EXIT_USAGE,
  fetchFailureReason,
  reportError,
  UnreachableError,
  UsageError,
} from './errors.js';
import { projectFromRepository } from './git.js';
import { commandFlags, commandHelp, fullHelp, GLOBAL_FLAGS, topicsHelp } from './help.js';
import { Output, type OutStream } from './output.js';
import { commandNames, loadAll, loadCommand } from './registry.js';
import { isProjectName } from './remote.js';
import { loadSettings, type Settings, updateSettings } from './settings.js';
import { closest } from './suggest.js';

export const VERSION = '0.1.0';
export const DEFAULT_API_URL = 'http://127.0.0.1:3000';

/** Where the CLI reads and writes: the process's streams in main.ts, buffers in tests. */
export interface CliIO {
  stdout: OutStream;
  stderr: OutStream;
  readStdin(): Promise<string>;
  /** Asks on the terminal, or undefined when stdin is not a terminal. */
  ask?: (question: string, hidden: boolean) => Promise<string>;
  env: CliEnvironment;
  cwd: string;
}

/** Runs `paastech argv…`; resolves with the exit code. */
export async function runCli(argv: string[], io: CliIO): Promise<number> {
  const out = new Output(io.stdout, io.stderr, { noColor: io.env.noColor });
  const debug = io.env.debug || argv.includes('--debug');
  try {
    return await dispatch(argv, io, out);
  } catch (err) {
    const report = reportError(err);
    out.error(
      report.message,
      report.exitCode === EXIT_USAGE && !report.hint ? 'see paastech --help' : report.hint,
    );
    if (debug) printDebug(out, err);
    return report.exitCode;
  }
}

/** With --debug: the API's whole problem document, or the stack of an error the CLI did not expect. */
function printDebug(out: Output, err: unknown): void {
  if (err instanceof ApiError) out.info(`problem: ${JSON.stringify(err.problem)}`);
  else if (err instanceof Error && (!(err instanceof CliError) || err instanceof UnreachableError)) {
    out.info(err.stack ?? String(err));
  }
}

/** Handles the no-argument, --version and --help forms, else runs the named command. */
async function dispatch(argv: string[], io: CliIO, out: Output): Promise<number> {
  const [first, ...rest] = argv;
  if (first === undefined) {
    out.line(topicsHelp(commandNames()));
    return EXIT_OK;
  }
  if (first === '--version' || first === '-v') {
    out.line(`paastech ${VERSION}`);
    return EXIT_OK;
  }
  if (first === '--help' || first === '-h' || first === 'help') {
    const target = rest.find((a) => !a.startsWith('-'));
    if (target) {
      const name = resolveName(target);
      out.line(commandHelp(name, await loadCommand(name)));
    } else out.line(fullHelp(await loadAll()));
    return EXIT_OK;
  }
  const name = resolveName(first);
  const spaced = `${name}:${rest[0]}`;
  if (rest[0] && commandNames().includes(spaced)) {
    throw new UsageError(`unknown command "${name} ${rest[0]}"`, `commands use a colon: paastech ${spaced}`);
  }
  const command = await loadCommand(name);
  const parsed = parseCommandLine(name, command, rest);
  if (parsed.flags.help) {
    out.line(commandHelp(name, command));
    return EXIT_OK;
  }
  const ctx = await buildContext(name, command, parsed, io, out);
  await command.run(ctx);
  return EXIT_OK;
}

/** The command called `input`, or a usage error suggesting the closest one. */
function resolveName(input: string): string {
  const names = commandNames();
  if (names.includes(input)) return input;
  if (input.startsWith('-')) throw new UsageError(`expected a command before "${input}"`);
  const guess = closest(input, names);
  throw new UsageError(
    `unknown command "${input}"`,
    guess
      ? `did you mean "paastech ${guess}"? (paastech --help lists every command)`
      : 'paastech --help lists every command',
  );
}

interface ParsedLine {
  flags: FlagValues;
  args: Record<string, string | undefined>;
  rest: string[];
}

/** Parses a command's flags and positional arguments; throws UsageError (exit 2) for anything wrong. */
export function parseCommandLine(name: string, command: Command, argv: string[]): ParsedLine {
  const specs = { ...GLOBAL_FLAGS, ...commandFlags(command) };
  const options = Object.fromEntries(
    Object.entries(specs).map(([k, f]) => [k, { type: f.type, ...(f.short ? { short: f.short } : {}) }]),
  );
  let values: FlagValues;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({ args: argv, options, allowPositionals: true, strict: true }) as {
      values: FlagValues;
      positionals: string[];
    });
  } catch (err) {
    throw new UsageError(`${name}: ${parseArgsMessage(err)}`, `see paastech ${name} --help`);
  }
  if (values.help) return { flags: values, args: {}, rest: [] };
  const specArgs = command.args ?? [];
  const args: Record<string, string | undefined> = {};
  let rest: string[] = [];
  specArgs.forEach((a, i) => {
    if (a.variadic) rest = positionals.slice(i);
    else args[a.name] = positionals[i];
    if (a.required && (a.variadic ? rest.length === 0 : positionals[i] === undefined)) {
      throw new UsageError(`${name}: missing argument ${a.name}`, `see paastech ${name} --help`);
    }
  });
  const max = specArgs.some((a) => a.variadic) ? Number.POSITIVE_INFINITY : specArgs.length;
  if (positionals.length > max) {
    throw new UsageError(`${name}: unexpected argument "${positionals[max]}"`, `see paastech ${name} --help`);
  }
  return { flags: values, args, rest };
}

/** Rewrites node:util parseArgs errors as short lower-case messages. */
function parseArgsMessage(err: unknown): string {
  const e = err as { code?: string; message?: string };
  const quoted = /'([^']+)'/.exec(e.message ?? '')?.[1] ?? '';
  const flag = /--?[^\s,<]+(?=[^,]*$)/.exec(quoted.replace(/ <value>$/, ''))?.[0];
  if (e.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') return `unknown flag "${flag ?? '?'}"`;
  if (e.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
    return /argument missing/.test(e.message ?? '')
      ? `flag "${flag ?? '?'}" needs a value`
      : `flag "${flag ?? '?'}" takes no value`;
  }
  return (e.message ?? 'invalid arguments').toLowerCase();
}

/** Builds the command's context: API URL, token, client, project; checks the preconditions. */
async function buildContext(
  name: string,
  command: Command,
  parsed: ParsedLine,
  io: CliIO,
  out: Output,
): Promise<Context> {
  let settings: Settings | undefined;
  const readSettings = () => {
    settings ??= loadSettings(io.env.configDir);
    return settings;
  };
  const apiUrl = normaliseApiUrl(
    (parsed.flags.api as string | undefined) ?? io.env.apiUrl ?? readSettings().apiUrl ?? DEFAULT_API_URL,
  );
  const token = io.env.token ?? readSettings().logins?.[new URL(apiUrl).origin]?.token;
  if (command.requireLogin && !token) {
    throw new CliError('not logged in', `run paastech login (server ${apiUrl}), or set PAASTECH_TOKEN`);
  }
  const project = command.requireProject
    ? await resolveProject(parsed.flags.project as string | undefined, io.cwd)
    : '';
  return {
    id: name,
    args: parsed.args,
    rest: parsed.rest,
    flags: parsed.flags,
    json: parsed.flags.json === true,
    debug: parsed.flags.debug === true || io.env.debug,
    out,
    env: io.env,
    cwd: io.cwd,
    apiUrl,
    ...(token ? { token } : {}),
    api: createApiClient({
      baseUrl: apiUrl,
      ...(token ? { token } : {}),
      fetch: reachable(apiUrl),
      headers: { 'user-agent': `paastech-cli/${VERSION}` },
    }),
    project,
    readStdin: io.readStdin,
    prompt: async (question, { hidden = false, flagHint }) => {
      if (!io.ask) throw new UsageError(`${name}: stdin is not a terminal: ${flagHint}`);
      return io.ask(question, hidden);
    },
    settings: readSettings,
    updateSettings: (change) => {
      settings = updateSettings(io.env.configDir, change);
    },
  };
}

/** Checks an API URL (http or https, no credentials) and drops a trailing slash. */
export function normaliseApiUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UsageError(`API URL "${raw}": must be an http:// or https:// URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new UsageError(`API URL "${raw}": must be an http:// or https:// URL`);
  }
  if (url.username || url.password) throw new UsageError(`API URL "${raw}": must not contain credentials`);
  return url.href.replace(/\/+$/, '');
}

/** A fetch that turns "could not connect" into an UnreachableError naming the API URL. */
function reachable(apiUrl: string): (input: Request) => Promise<Response> {
  return async (input) => {
    try {
      return await fetch(input);
    } catch (err) {
      const reason = fetchFailureReason(err);
      if (reason) throw new UnreachableError(apiUrl, reason);
      throw err;
    }
  };
}

/** The project from -p/--project, else from the `paastech` remote of the cwd's git repository. */
async function resolveProject(flag: string | undefined, cwd: string): Promise<string> {
  if (flag !== undefined) {
    if (!isProjectName(flag)) {
      throw new UsageError(`project "${flag}": name must be a DNS label (a-z, 0-9, -)`);
    }
    return flag;
  }
  const fromRemote = await projectFromRepository(cwd);
  if (fromRemote) return fromRemote;
  throw new CliError(
    'no project given, and this directory has no `paastech` git remote',
    'pass -p NAME, or run paastech git:remote -p NAME in your repository (paastech projects lists yours)',
  );
}
