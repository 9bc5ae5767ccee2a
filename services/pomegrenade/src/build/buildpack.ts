// Custom buildpacks implementing the Heroku buildpack API: bin/detect BUILD_DIR, bin/compile
// BUILD_DIR CACHE_DIR ENV_DIR, bin/release BUILD_DIR (YAML with default_process_types). The buildpack
// is the NAME of one the operator installed (a directory under PAASTECH_BUILDPACKS_DIR) or an https
// git URL (cloned inside the build sandbox); it runs in the build sandbox like every other build
// command, as the project's uid. Invariant: a deployment can never make the build read a host
// directory of its choosing — a name is one [a-z0-9-] label looked up in the operator's directory
// only, and there is no other way to point at the host.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { DeploymentFailedError } from '../domain/model.js';
import type { Bind, BuildContext, Builder, BuildOutput } from '../domain/ports.js';

/** An operator-installed buildpack's name (the API accepts the same). */
const BUILDPACK_NAME = /^[a-z0-9][a-z0-9-]{0,62}$/;
const GIT_URL = /^https:\/\/[A-Za-z0-9.-]+(:\d+)?\/[A-Za-z0-9._~/%+-]*$/;
const GIT_REF = /^[A-Za-z0-9._/-]{1,200}$/;
/** Names listed at most in an "unknown buildpack" failure. */
const LISTED = 50;

/** Where a buildpack comes from: one the operator installed, or a git repository (and optional ref). */
export type BuildpackSource =
  | { kind: 'installed'; name: string }
  | { kind: 'git'; url: string; ref?: string };

/** Parses a buildpack setting; throws a no_builder failure naming the rule it broke. */
export function parseBuildpackUrl(value: string): BuildpackSource {
  if (BUILDPACK_NAME.test(value)) return { kind: 'installed', name: value };
  const [url = '', ref, ...rest] = value.split('#');
  if (!GIT_URL.test(url) || rest.length > 0) {
    throw noBuilder(
      `buildpack "${printable(value)}": must be the name of an installed buildpack or an https:// git URL`,
    );
  }
  if (ref !== undefined && (!GIT_REF.test(ref) || ref.startsWith('-') || ref.includes('..'))) {
    throw noBuilder(`buildpack ref "${printable(ref)}": must be a branch or tag name`);
  }
  return ref ? { kind: 'git', url, ref } : { kind: 'git', url };
}

/** The names of the buildpacks installed in `dir` (those with a bin/compile), sorted. */
export function installedBuildpacks(dir: string): string[] {
  let entries: string[];
  try {
    entries = fs.readdirSync(dir);
  } catch {
    return [];
  }
  return entries
    .filter((n) => BUILDPACK_NAME.test(n) && fs.existsSync(path.join(dir, n, 'bin', 'compile')))
    .sort();
}

/** `value` cut short, without control characters, for a message. */
function printable(value: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: replacing control characters is the point
  return value.slice(0, 100).replace(/[\x00-\x1f\x7f]/g, '?');
}

/** A no_builder failure. */
function noBuilder(message: string): DeploymentFailedError {
  return new DeploymentFailedError({ reason: 'no_builder', message });
}

/** Extracts default_process_types from bin/release output (the simple YAML buildpacks print). */
export function parseReleaseYaml(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  let inTypes = false;
  for (const line of text.split('\n')) {
    if (/^\S/.test(line)) {
      inTypes = /^default_process_types:\s*$/.test(line);
      continue;
    }
    const m = /^\s+([A-Za-z0-9_-]+):\s*(.+?)\s*$/.exec(line);
    if (inTypes && m?.[1] && m[2]) out[m[1].toLowerCase()] = m[2].replace(/^(['"])(.*)\1$/, '$2');
  }
  return out;
}

/**
 * Makes `dir` (inside the project cache, which earlier builds could write) a real directory owned
 * by `uid`: a symlink planted there is removed, never followed by a chown as root.
 */
function ownedDir(dir: string, uid: number): void {
  try {
    if (!fs.lstatSync(dir).isDirectory()) fs.rmSync(dir, { force: true });
  } catch {
    // absent
  }
  fs.mkdirSync(dir, { recursive: true });
  fs.lchownSync(dir, uid, uid);
}

/** Builds with a custom buildpack. */
export class BuildpackBuilder implements Builder {
  readonly name = 'buildpack';
  private readonly source: BuildpackSource;

  constructor(
    url: string,
    private readonly workDir: string,
    /** The operator's buildpacks directory (PAASTECH_BUILDPACKS_DIR), where names are looked up. */
    private readonly buildpacksDir: string,
  ) {
    this.source = parseBuildpackUrl(url);
  }

  async detect(): Promise<boolean> {
    return true;
  }

  async build(ctx: BuildContext): Promise<BuildOutput> {
    const src = this.source;
    ctx.step(
      src.kind === 'installed'
        ? `Using buildpack ${src.name} (installed on this platform)`
        : `Using buildpack ${src.url}${src.ref ? `#${src.ref}` : ''}`,
    );
    const bp = await this.fetch(ctx);
    const binds: Bind[] = [
      { host: bp, sandbox: '/buildpack', writable: false },
      { host: this.envDir(ctx), sandbox: '/env', writable: false },
    ];
    const detected: string[] = [];
    try {
      await ctx.exec(['/buildpack/bin/detect', '/app'], { binds, capture: (l) => detected.push(l) });
    } catch {
      throw noBuilder("the buildpack's bin/detect refused this app");
    }
    ctx.step(`Building with buildpack ${detected[0] ?? ''}`.trim());
    ownedDir(path.join(ctx.cacheDir, 'buildpack'), fs.statSync(ctx.appDir).uid);
    await ctx.exec(['/buildpack/bin/compile', '/app', '/cache/buildpack', '/env'], { binds });
    const release: string[] = [];
    if (fs.existsSync(path.join(bp, 'bin', 'release'))) {
      await ctx.exec(['/buildpack/bin/release', '/app'], { binds, capture: (l) => release.push(l) });
    }
    return { defaultProcesses: parseReleaseYaml(release.join('\n')), env: {}, profileD: true };
  }

  /** The buildpack directory on the host: the installed one, or a fresh clone in the project cache. */
  private async fetch(ctx: BuildContext): Promise<string> {
    if (this.source.kind === 'installed') {
      const installed = installedBuildpacks(this.buildpacksDir);
      if (!installed.includes(this.source.name)) {
        const names = installed.length === 0 ? 'none' : installed.slice(0, LISTED).join(', ');
        const more = installed.length > LISTED ? ` and ${installed.length - LISTED} more` : '';
        throw noBuilder(
          `buildpack "${this.source.name}" is not installed on this platform (installed: ${names}${more}); ` +
            'set an installed name or an https:// git URL, or ask the operator to install it',
        );
      }
      return path.join(this.buildpacksDir, this.source.name);
    }
    const name = createHash('sha256')
      .update(`${this.source.url}#${this.source.ref ?? ''}`)
      .digest('hex')
      .slice(0, 16);
    const dir = path.join(ctx.cacheDir, 'buildpacks', name);
    ownedDir(path.dirname(dir), fs.statSync(ctx.appDir).uid);
    fs.rmSync(dir, { recursive: true, force: true });
    ctx.step(`Fetching buildpack ${this.source.url}${this.source.ref ? `#${this.source.ref}` : ''}`);
    const branch = this.source.ref ? [`--branch=${this.source.ref}`] : [];
    await ctx.exec([
      'git',
      'clone',
      '-q',
      '--depth=1',
      ...branch,
      '--',
      this.source.url,
      `/cache/buildpacks/${name}`,
    ]);
    return dir;
  }

  /** ENV_DIR: one file per config var, readable by the build only. */
  private envDir(ctx: BuildContext): string {
    const dir = path.join(this.workDir, 'env');
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    for (const [k, v] of Object.entries(ctx.configVars))
      fs.writeFileSync(path.join(dir, k), v, { mode: 0o400 });
    const uid = fs.statSync(ctx.appDir).uid;
    fs.chownSync(dir, uid, uid);
    for (const k of Object.keys(ctx.configVars)) fs.chownSync(path.join(dir, k), uid, uid);
    return dir;
  }
}
