// The builders, tried in order (first match wins): node, static, python, procfile. A project can
// force one by name. Builders run their commands through BuildContext.exec, i.e. in the build
// sandbox as the project's uid, with /app the source tree and /cache kept across builds.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { run } from '@paastech/kit';
import type { BuildContext, Builder, BuildOutput } from '../domain/ports.js';
import { hasAppFile, readAppFile } from './files.js';

/** The static file server shipped with Pomegrenade, copied into static sites' artifacts. */
export const STATIC_SERVER_FILE = fileURLToPath(new URL('../../static/serve.mjs', import.meta.url));

/** Node.js apps: package.json. */
export class NodeBuilder implements Builder {
  readonly name = 'node';

  async detect(appDir: string): Promise<boolean> {
    return hasAppFile(appDir, 'package.json');
  }

  async build(ctx: BuildContext): Promise<BuildOutput> {
    const pkg = parsePackageJson(readAppFile(ctx.appDir, 'package.json'));
    const version = await nodeVersion();
    ctx.step(`Building with node ${version}`);
    const env = { npm_config_cache: '/cache/npm', npm_config_update_notifier: 'false' };
    const lock = ['package-lock.json', 'npm-shrinkwrap.json']
      .map((f) => readAppFile(ctx.appDir, f))
      .find((t) => t);
    if (lock) {
      await this.installFromLockfile(ctx, lock, version, env);
    } else if (!pkg.hasDependencies) {
      ctx.step('No dependencies to install');
    } else {
      ctx.step('Installing dependencies (npm install, no lockfile)');
      await ctx.exec(['npm', 'install', '--no-audit', '--no-fund'], { env });
    }
    if (pkg.scripts.build) {
      ctx.step('Running npm run build');
      await ctx.exec(['npm', 'run', 'build'], { env });
    }
    // The start script itself, not `npm start`: no npm start-up cost, and signals reach the app.
    const start = pkg.scripts.start ?? (hasAppFile(ctx.appDir, 'server.js') ? 'node server.js' : undefined);
    return {
      defaultProcesses: start ? { web: start } : {},
      env: { NODE_ENV: 'production', PATH: '/app/node_modules/.bin:/usr/local/bin:/usr/bin:/bin' },
    };
  }

  /** npm ci, or hardlinks of the node_modules an earlier build installed from the same lockfile. */
  private async installFromLockfile(
    ctx: BuildContext,
    lock: string,
    nodeVersion: string,
    env: Record<string, string>,
  ): Promise<void> {
    const hash = createHash('sha256')
      .update(nodeVersion)
      .update('\0')
      .update(lock)
      .digest('hex')
      .slice(0, 16);
    const keep = path.join(ctx.cacheDir, 'node_modules', hash);
    if (isRealDirInside(ctx.cacheDir, path.join(keep, 'node_modules'))) {
      ctx.step('Reusing node_modules (lockfile unchanged)');
      // A node_modules of the app's own (possibly a symlink out of the tree) must not be written into.
      fs.rmSync(path.join(ctx.appDir, 'node_modules'), { recursive: true, force: true });
      await run('cp', ['-al', '--', path.join(keep, 'node_modules'), path.join(ctx.appDir, 'node_modules')]);
      return;
    }
    ctx.step('Installing dependencies (npm ci)');
    await ctx.exec(['npm', 'ci', '--no-audit', '--no-fund'], { env });
    const built = path.join(ctx.appDir, 'node_modules');
    if (!fs.existsSync(built)) return;
    // Keep this install for the next build with the same lockfile; older sets are dropped.
    fs.rmSync(path.join(ctx.cacheDir, 'node_modules'), { recursive: true, force: true });
    fs.mkdirSync(keep, { recursive: true });
    await run('cp', ['-al', '--', built, path.join(keep, 'node_modules')]);
  }
}

/**
 * True when `dir` is a directory reached from `root` through real directories only. The cache is
 * writable by the app's builds, so a planted symlink (`/cache/node_modules/<hash>` → a host directory)
 * must never steer the copy this process makes as root.
 */
export function isRealDirInside(root: string, dir: string): boolean {
  const rel = path.relative(root, dir);
  if (rel === '' || rel.startsWith('..') || path.isAbsolute(rel)) return false;
  let at = root;
  for (const part of rel.split(path.sep)) {
    at = path.join(at, part);
    try {
      if (!fs.lstatSync(at).isDirectory()) return false;
    } catch {
      return false;
    }
  }
  return true;
}

let cachedNodeVersion: Promise<string> | undefined;

/** The version of the host's node (the one builds and apps run), asked once. */
function nodeVersion(): Promise<string> {
  cachedNodeVersion ??= run('node', ['--version']).then((r) => r.stdout.trim());
  return cachedNodeVersion;
}

/** The fields of package.json the builder uses, tolerating junk. */
function parsePackageJson(text: string | null): {
  scripts: Record<string, string>;
  hasDependencies: boolean;
} {
  try {
    const o = JSON.parse(text ?? '{}') as {
      scripts?: unknown;
      dependencies?: object;
      devDependencies?: object;
    };
    const hasDependencies = [o.dependencies, o.devDependencies].some((d) => d && Object.keys(d).length > 0);
    const scripts: Record<string, string> = {};
    if (o.scripts && typeof o.scripts === 'object') {
      for (const [k, v] of Object.entries(o.scripts)) if (typeof v === 'string') scripts[k] = v;
    }
    return { scripts, hasDependencies };
  } catch {
    return { scripts: {}, hasDependencies: true };
  }
}

const STATIC_ROOTS = ['', 'public', 'dist'];

/** Static sites: index.html at the root or in public/ or dist/. */
export class StaticBuilder implements Builder {
  readonly name = 'static';

  async detect(appDir: string): Promise<boolean> {
    return STATIC_ROOTS.some((r) => hasAppFile(appDir, path.join(r, 'index.html')));
  }

  async build(ctx: BuildContext): Promise<BuildOutput> {
    const root = STATIC_ROOTS.find((r) => hasAppFile(ctx.appDir, path.join(r, 'index.html'))) ?? '';
    ctx.step(`Static site from /${root}`);
    // The tree is the app's: whatever .paastech is (a symlink to /etc?) goes before we write as root.
    const dir = path.join(ctx.appDir, '.paastech');
    fs.rmSync(dir, { recursive: true, force: true });
    fs.mkdirSync(dir);
    fs.copyFileSync(STATIC_SERVER_FILE, path.join(dir, 'serve.mjs'), fs.constants.COPYFILE_EXCL);
    ctx.info('serving with the built-in static server (ETag, gzip/br, 404 page)');
    return {
      defaultProcesses: { web: `exec node .paastech/serve.mjs --port "$PORT" --root ./${root}` },
      env: {},
    };
  }
}

/** Python apps: requirements.txt or pyproject.toml; a venv per build in .venv. */
export class PythonBuilder implements Builder {
  readonly name = 'python';

  async detect(appDir: string): Promise<boolean> {
    return hasAppFile(appDir, 'requirements.txt') || hasAppFile(appDir, 'pyproject.toml');
  }

  async build(ctx: BuildContext): Promise<BuildOutput> {
    ctx.step('Building with python3 (venv in .venv)');
    await ctx.exec(['python3', '-m', 'venv', '.venv']);
    const env = { PIP_CACHE_DIR: '/cache/pip', PIP_DISABLE_PIP_VERSION_CHECK: '1' };
    const requirements = readAppFile(ctx.appDir, 'requirements.txt') ?? '';
    const wanted = requirements.split('\n').some((l) => l.trim() !== '' && !l.trim().startsWith('#'));
    if (wanted) {
      ctx.step('Installing requirements.txt');
      await ctx.exec(['.venv/bin/pip', 'install', '-r', 'requirements.txt'], { env });
    } else if (hasAppFile(ctx.appDir, 'pyproject.toml')) {
      ctx.step('Installing the project (pyproject.toml)');
      await ctx.exec(['.venv/bin/pip', 'install', '.'], { env });
    } else {
      ctx.info('requirements.txt lists nothing to install');
    }
    return {
      defaultProcesses: {},
      env: {
        PATH: '/app/.venv/bin:/usr/local/bin:/usr/bin:/bin',
        VIRTUAL_ENV: '/app/.venv',
        PYTHONUNBUFFERED: '1',
      },
    };
  }
}

/** Procfile only: runs whatever the Procfile says with the runtimes of the host. */
export class ProcfileBuilder implements Builder {
  readonly name = 'procfile';

  async detect(appDir: string): Promise<boolean> {
    return hasAppFile(appDir, 'Procfile');
  }

  async build(ctx: BuildContext): Promise<BuildOutput> {
    ctx.step('Procfile app: no build step');
    return { defaultProcesses: {}, env: {} };
  }
}

/** The builders in detection order. */
export function defaultBuilders(): Builder[] {
  return [new NodeBuilder(), new StaticBuilder(), new PythonBuilder(), new ProcfileBuilder()];
}
