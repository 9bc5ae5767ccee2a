// The CLI's config file, $XDG_CONFIG_HOME/paastech/config.json. Invariant: it holds API tokens, so
// the directory is created 0700 and the file is only ever written 0600 (through a temporary file
// renamed into place, so a crash never leaves half a file). A token is stored per API origin and is
// only ever sent to that origin.
import fs from 'node:fs';
import path from 'node:path';
import { CliError } from './errors.js';

/** A login on one server. */
export interface StoredLogin {
  token: string;
  email?: string;
}

export interface Settings {
  /** The default API URL (set by `login --api`). */
  apiUrl?: string;
  /** Logins by API origin (`http://127.0.0.1:3000`). */
  logins?: Record<string, StoredLogin>;
  /** The git HTTP origins each API origin serves, so git:credential answers only for them. */
  gitHosts?: Record<string, string>;
}

/** The path of the config file in `configDir`. */
export function settingsPath(configDir: string): string {
  return path.join(configDir, 'config.json');
}

/** Reads the config file; a missing file is empty settings, a corrupt one an error saying where. */
export function loadSettings(configDir: string): Settings {
  const file = settingsPath(configDir);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new CliError(`cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  try {
    const parsed: unknown = JSON.parse(text);
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed))
      throw new Error('not an object');
    return parsed as Settings;
  } catch {
    throw new CliError(
      `config file ${file} is not valid JSON`,
      'fix it, or delete it and run paastech login',
    );
  }
}

/** Writes the config file with mode 0600 in a 0700 directory. */
export function saveSettings(configDir: string, settings: Settings): void {
  fs.mkdirSync(configDir, { recursive: true, mode: 0o700 });
  const file = settingsPath(configDir);
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, `${JSON.stringify(settings, null, 2)}\n`, { mode: 0o600 });
  fs.chmodSync(tmp, 0o600);
  fs.renameSync(tmp, file);
}

/** Applies `change` to the stored settings and writes them back. */
export function updateSettings(configDir: string, change: (s: Settings) => void): Settings {
  const settings = loadSettings(configDir);
  change(settings);
  saveSettings(configDir, settings);
  return settings;
}
