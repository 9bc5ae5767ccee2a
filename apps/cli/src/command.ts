// How a command is declared: description, arguments, flags, examples and preconditions. The file
// path is the command's name (commands/config/set.ts is `config:set`, commands/config/index.ts is
// `config`); the runner checks the preconditions before `run` is called.
import type { ApiClient } from '@paastech/api-client';
import type { CliEnvironment } from './config.js';
import type { Output } from './output.js';
import type { Settings } from './settings.js';

export interface FlagSpec {
  type: 'string' | 'boolean';
  short?: string;
  description: string;
  /** The value's name in help (`--expires-in DAYS`). */
  placeholder?: string;
}

export interface ArgSpec {
  name: string;
  description: string;
  required?: boolean;
  /** Takes every remaining argument (only the last one may). */
  variadic?: boolean;
}

export type FlagValues = Record<string, string | boolean | undefined>;

/** What a command's `run` receives. */
export interface Context {
  /** The command's name (`config:set`). */
  id: string;
  /** Positional arguments by name; a variadic one is in `rest`. */
  args: Record<string, string | undefined>;
  rest: string[];
  flags: FlagValues;
  /** --json was given: print data as JSON on stdout and nothing else there. */
  json: boolean;
  debug: boolean;
  out: Output;
  env: CliEnvironment;
  cwd: string;
  /** The API's base URL (from --api, PAASTECH_API_URL, the config file, or the default). */
  apiUrl: string;
  /** The token in use (PAASTECH_TOKEN or the stored login); set when `requireLogin`. */
  token?: string;
  /** The API client (authenticated when a token is known). */
  api: ApiClient;
  /** The project (from -p/--project or the `paastech` remote); set when `requireProject`. */
  project: string;
  /** Reads all of stdin (for --password-stdin and git's credential protocol). */
  readStdin(): Promise<string>;
  /** Asks a question on the terminal; throws a UsageError naming `flagHint` when stdin is no terminal. */
  prompt(question: string, options: { hidden?: boolean; flagHint: string }): Promise<string>;
  /** The config file, read when the command starts. */
  settings(): Settings;
  /** Changes and writes the config file. */
  updateSettings(change: (s: Settings) => void): void;
}

export interface Command {
  description: string;
  args?: ArgSpec[];
  flags?: Record<string, FlagSpec>;
  examples?: string[];
  /** Accepts --json. */
  json?: boolean;
  /** Fails with "not logged in" before running when no token is known. */
  requireLogin?: boolean;
  /** Accepts -p/--project and fails before running when no project can be determined. */
  requireProject?: boolean;
  run(ctx: Context): Promise<void>;
}

/** Declares a command (an identity function that gives the object its type). */
export function defineCommand(command: Command): Command {
  return command;
}
