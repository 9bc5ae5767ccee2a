// git never sees an inherited environment: whatever GIT_*, HOME or XDG_CONFIG_HOME the controller's
// own process carries, the git it runs reads no config but the repository's, no system config, and
// uses the platform's own empty HOME.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { type GitRuntime, git, gitEnv, spawnGit } from '../src/git.js';
import { tempDir } from './support/harness.js';

let root: string;
let runtime: GitRuntime;

/** Values an operator's shell, a hook or a caller could leave in the controller's environment. */
function hostileEnv(dir: string): Record<string, string> {
  const repo = path.join(dir, 'elsewhere.git');
  execFileSync('git', ['init', '-q', '--bare', repo], { env: { PATH: process.env.PATH ?? '' } });
  const globalFile = path.join(dir, 'global.gitconfig');
  fs.writeFileSync(globalFile, '[core]\n\tsshCommand = from-global\n');
  const home = path.join(dir, 'home');
  fs.mkdirSync(home);
  fs.writeFileSync(path.join(home, '.gitconfig'), '[core]\n\tpager = from-home\n');
  const xdg = path.join(dir, 'xdg');
  fs.mkdirSync(path.join(xdg, 'git'), { recursive: true });
  fs.writeFileSync(path.join(xdg, 'git', 'config'), '[core]\n\teditor = from-xdg\n');
  return {
    GIT_DIR: repo,
    GIT_WORK_TREE: dir,
    GIT_CONFIG_GLOBAL: globalFile,
    GIT_CONFIG_SYSTEM: globalFile,
    GIT_CONFIG_PARAMETERS: "'core.hookspath'='/from/parameters'",
    GIT_CONFIG_COUNT: '1',
    GIT_CONFIG_KEY_0: 'core.fsmonitor',
    GIT_CONFIG_VALUE_0: '/from/count',
    GIT_EXEC_PATH: '/nonexistent',
    GIT_TRACE: '1',
    HOME: home,
    XDG_CONFIG_HOME: xdg,
  };
}

beforeAll(() => {
  root = tempDir('gc-env-');
  const home = path.join(root, 'platform-home');
  fs.mkdirSync(home);
  runtime = { path: process.env.PATH ?? '/usr/bin:/bin', home };
});

afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

afterEach(() => vi.unstubAllEnvs());

describe('gitEnv', () => {
  it('is exactly the platform environment plus the extra, whatever the process carries', () => {
    for (const [k, v] of Object.entries(hostileEnv(fs.mkdtempSync(path.join(root, 'hostile-')))))
      vi.stubEnv(k, v);
    expect(gitEnv(runtime, { GIT_PROTOCOL: 'version=2' })).toEqual({
      PATH: runtime.path,
      HOME: runtime.home,
      XDG_CONFIG_HOME: runtime.home,
      GIT_CONFIG_NOSYSTEM: '1',
      GIT_ATTR_NOSYSTEM: '1',
      GIT_TERMINAL_PROMPT: '0',
      LANG: 'C',
      LC_ALL: 'C',
      GIT_PROTOCOL: 'version=2',
    });
  });

  it('gives the real git no inherited repository, config, HOME or trace (git and spawnGit)', async () => {
    for (const [k, v] of Object.entries(hostileEnv(fs.mkdtempSync(path.join(root, 'hostile-')))))
      vi.stubEnv(k, v);
    // Every config source git knows, with where it came from: none may apply.
    const args = ['config', '--list', '--show-origin'];
    const viaRun = await git(runtime, args);
    expect(viaRun).toBe('');
    const child = spawnGit(runtime, ['rev-parse', '--is-inside-git-dir']);
    let out = '';
    let err = '';
    child.stdout?.on('data', (b: Buffer) => {
      out += b.toString();
    });
    child.stderr?.on('data', (b: Buffer) => {
      err += b.toString();
    });
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    // HOME is an empty directory, not a repository: an inherited GIT_DIR would make this succeed.
    expect({ code, out, err: err.trim() }).toEqual({
      code: 128,
      out: '',
      err: 'fatal: not a git repository (or any of the parent directories): .git',
    });
  });
});
