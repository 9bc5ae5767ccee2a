// Finds the commands: every module under commands/ is one, named after its path (config/set → config:set,
// config/index → config). Works on the built .js files and, in tests, on the .ts sources.
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Command } from './command.js';

const COMMANDS_DIR = path.join(import.meta.dirname, 'commands');
const EXT = path.extname(import.meta.filename);

/** Topic descriptions, shown by `paastech` with no arguments. */
export const TOPICS: Record<string, string> = {
  auth: 'sign up, log in and out, print the token in use',
  projects: 'create, list, inspect and delete projects',
  git: 'connect a local git repository to a project',
  deployments: 'list deployments, see their build output, roll back',
  ps: 'see, scale and restart a project’s instances',
  logs: 'build, app, router and platform output',
  config: 'read and change a project’s config vars',
  settings: 'health check path, builder, outside-world access and limits of a project',
  buildpacks: 'build a project with a custom buildpack (installed or an https git URL)',
  domains: 'route hostnames to a project',
  keys: 'manage the SSH keys that may push',
  tokens: 'create and revoke API tokens',
  open: 'open a project’s app in the browser',
};

/** Lists command names found under commands/, sorted. */
export function commandNames(): string[] {
  const names: string[] = [];
  const walk = (dir: string, prefix: string[]) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      if (entry.isDirectory()) walk(path.join(dir, entry.name), [...prefix, entry.name]);
      else if (entry.name.endsWith(EXT) && !entry.name.endsWith(`.d${EXT}`)) {
        const base = entry.name.slice(0, -EXT.length);
        names.push([...prefix, ...(base === 'index' ? [] : [base])].join(':'));
      }
    }
  };
  walk(COMMANDS_DIR, []);
  return names.sort();
}

/** Loads the command called `name` (which must be one of commandNames()). */
export async function loadCommand(name: string): Promise<Command> {
  const parts = name.split(':');
  const nested = path.join(COMMANDS_DIR, ...parts, `index${EXT}`);
  const file = fs.existsSync(nested) ? nested : `${path.join(COMMANDS_DIR, ...parts)}${EXT}`;
  const mod = (await import(pathToFileURL(file).href)) as { default: Command };
  return mod.default;
}

/** Loads every command, by name. */
export async function loadAll(): Promise<Map<string, Command>> {
  const out = new Map<string, Command>();
  for (const name of commandNames()) out.set(name, await loadCommand(name));
  return out;
}

/** The topic of a command name (`config:set` → `config`, `login` → `auth`, `rollback` → `deployments`). */
export function topicOf(name: string): string {
  const head = name.split(':')[0]!;
  if (head === 'rollback') return 'deployments';
  return AUTH_COMMANDS.has(head) ? 'auth' : head;
}

const AUTH_COMMANDS = new Set(['signup', 'login', 'logout', 'whoami', 'auth']);
