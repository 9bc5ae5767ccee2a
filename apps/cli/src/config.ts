// The CLI's view of its environment. This is the only file of the CLI that reads process.env (a
// layout rule): everything else receives these values through the command context.
import os from 'node:os';
import path from 'node:path';

/** What the environment says about how the CLI should behave. */
export interface CliEnvironment {
  /** PAASTECH_API_URL: the API to talk to (after --api, before the config file). */
  apiUrl?: string;
  /** PAASTECH_TOKEN: an API token that takes precedence over the stored one. */
  token?: string;
  /** Directory of config.json: $XDG_CONFIG_HOME/paastech, default ~/.config/paastech. */
  configDir: string;
  /** The user's home directory (for ~/.ssh keys). */
  home: string;
  /** NO_COLOR set (to anything non-empty): never print colours. */
  noColor: boolean;
  /** A graphical session exists (DISPLAY or WAYLAND_DISPLAY): a browser may be opened. */
  hasDisplay: boolean;
  /** PAASTECH_DEBUG set: behave as if --debug was given. */
  debug: boolean;
}

/** Reads the CLI's environment variables once. */
export function readEnvironment(env: NodeJS.ProcessEnv = process.env): CliEnvironment {
  const nonEmpty = (v: string | undefined) => (v && v.length > 0 ? v : undefined);
  const home = nonEmpty(env.HOME) ?? os.homedir();
  const xdg = nonEmpty(env.XDG_CONFIG_HOME);
  const configHome = xdg && path.isAbsolute(xdg) ? xdg : path.join(home, '.config');
  const apiUrl = nonEmpty(env.PAASTECH_API_URL);
  const token = nonEmpty(env.PAASTECH_TOKEN);
  return {
    ...(apiUrl ? { apiUrl } : {}),
    ...(token ? { token } : {}),
    configDir: path.join(configHome, 'paastech'),
    home,
    noColor: nonEmpty(env.NO_COLOR) !== undefined,
    hasDisplay: nonEmpty(env.DISPLAY) !== undefined || nonEmpty(env.WAYLAND_DISPLAY) !== undefined,
    debug: nonEmpty(env.PAASTECH_DEBUG) !== undefined,
  };
}
