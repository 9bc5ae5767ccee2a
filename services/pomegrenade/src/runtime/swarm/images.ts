// Deployment images: a build artifact (the directory instances see as /app) becomes
// `<registry>/<project>:v<N>` FROM the base image, with the start command of each process type
// baked in (`/paastech/run <type>`); or a repository's own Dockerfile is built as-is. Images are
// pushed to the registry every node pulls from, and deleted from it and from the nodes once their
// deployment leaves the kept window. Invariant: config vars never enter an image — only the
// builder's environment (PATH, NODE_ENV, …); config reaches tasks as service environment.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { BASE_IMAGE_REPO, ensureBaseImage } from './base-image.js';
import type { BuildResources, DockerClient } from './docker.js';
import { dockerfileRefsProblem, dockerfileRegistryHosts, platformRegistryHosts } from './dockerfile-refs.js';

/** The fixed entrypoint of application images: runs the command of one process type. */
export const RUN_SCRIPT = `#!/bin/sh
# /paastech/run TYPE: runs the start command of process type TYPE (from the Procfile or the builder).
case "$1" in ''|*[!A-Za-z0-9_-]*) echo "paastech: bad process type \\"$1\\"" >&2; exit 64;; esac
f="/paastech/process/$1"
if [ ! -r "$f" ]; then echo "paastech: no process type \\"$1\\" in this image" >&2; exit 64; fi
exec /bin/sh -c "$(cat "$f")"
`;

const PROCESS_TYPE = /^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,255}$/;
const REPO_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const REGISTRY = /^[A-Za-z0-9.-]+(?::\d{1,5})?$/;

export interface ImageOptions {
  docker: DockerClient;
  /** host[:port] of the registry every node pulls from. */
  registry: string;
  /** Cache of base-image root filesystems (see base-image.ts). */
  baseCacheDir: string;
  mirror?: string;
}

export interface BuildImageRequest {
  /** Host directory that becomes /app (builds/v<N>/app). */
  artifactDir: string;
  project: string;
  number: number;
  /** Process type → shell command (a .profile.d prefix already applied by the caller). */
  processes: Record<string, string>;
  /** The builder's environment for instances (never config vars). */
  env: Record<string, string>;
  onLine?: (text: string) => void;
  signal?: AbortSignal;
}

export interface DockerfileBuildRequest {
  /** The checked-out repository: the build context. */
  contextDir: string;
  project: string;
  number: number;
  dockerfile?: string;
  /** Memory and CPU limits of its RUN steps: the build's (buildLimits). */
  resources: BuildResources;
  onLine: (text: string) => void;
  signal?: AbortSignal;
}

/** A registry repository name for a project (pure): lower-case, and a hash suffix if that changed it. */
export function imageRepository(project: string): string {
  if (REPO_COMPONENT.test(project) && project.length <= 64) return project;
  const cleaned = project
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 48);
  let h = 0x811c9dc5;
  for (const c of Buffer.from(project, 'utf8')) h = Math.imul(h ^ c, 0x01000193) >>> 0;
  return `${cleaned || 'p'}-${h.toString(16).padStart(8, '0')}`;
}

/** `<registry>/<repository>:v<N>` (pure). */
export function imageTag(registry: string, project: string, number: number): string {
  if (!REGISTRY.test(registry)) throw new Error(`image: registry "${registry}" must be host[:port]`);
  if (!Number.isInteger(number) || number < 1)
    throw new Error(`image: deployment number ${number} is not valid`);
  return `${registry}/${imageRepository(project)}:v${number}`;
}

/** Splits `host:port/repo:tag` into its parts (pure); throws on anything else. */
export function parseTag(tag: string): { registry: string; repository: string; tag: string } {
  const m = /^([A-Za-z0-9.-]+(?::\d{1,5})?)\/([a-z0-9._/-]+):([A-Za-z0-9_][A-Za-z0-9_.-]{0,127})$/.exec(tag);
  if (!m) throw new Error(`image: "${tag}" is not <registry>/<repository>:<tag>`);
  return { registry: m[1]!, repository: m[2]!, tag: m[3]! };
}

/** A Dockerfile ENV value, double-quoted with \ " $ escaped (pure); newlines are refused. */
export function dockerfileEnvValue(value: string): string {
  if (/[\r\n]/.test(value)) throw new Error('image: an environment value of the build spans several lines');
  return `"${value.replace(/[\\"$]/g, (c) => `\\${c}`)}"`;
}

/** The Dockerfile of a deployment image (pure). */
export function deploymentDockerfile(
  base: string,
  req: Pick<BuildImageRequest, 'processes' | 'env' | 'project' | 'number'>,
): string {
  const types = Object.keys(req.processes);
  for (const t of types)
    if (!PROCESS_TYPE.test(t)) throw new Error(`image: process type "${t}" is not valid`);
  for (const k of Object.keys(req.env))
    if (!ENV_NAME.test(k)) throw new Error(`image: "${k}" is not an environment variable name`);
  const lines = [
    `FROM ${base}`,
    'COPY app /app',
    'COPY paastech /paastech',
    ...Object.entries(req.env).map(([k, v]) => `ENV ${k}=${dockerfileEnvValue(v)}`),
    `LABEL paastech.project=${dockerfileEnvValue(req.project)} paastech.deployment="v${req.number}" paastech.processes=${dockerfileEnvValue(types.join(','))}`,
    'WORKDIR /app',
    'ENTRYPOINT ["/paastech/run"]',
    `CMD [${JSON.stringify(types.includes('web') ? 'web' : (types[0] ?? 'web'))}]`,
  ];
  return `${lines.join('\n')}\n`;
}

/** Builds, pushes and deletes the images of deployments. */
export class ImageBuilder {
  constructor(private readonly o: ImageOptions) {}

  /** Makes sure the daemon has the base image; returns its tag. */
  ensureBaseImage(onLine?: (text: string) => void): Promise<string> {
    return ensureBaseImage(this.o.docker, { cacheDir: this.o.baseCacheDir, mirror: this.o.mirror, onLine });
  }

  /** The base image in the registry (`<registry>/paastech/base:<hash>`, pushed when missing): what
   * platform jobs on every node run (node-image-cleanup.ts); returns its reference. */
  async publishBaseImage(): Promise<string> {
    const base = await this.ensureBaseImage();
    const hash = parseTag(`${this.o.registry}/${base}`).tag;
    const repository = `${this.o.registry}/${BASE_IMAGE_REPO}`;
    if (!(await registryTags(this.o.registry, BASE_IMAGE_REPO)).includes(hash)) {
      await this.o.docker.tagImage(base, repository, hash);
      await this.o.docker.pushImage(repository, hash);
    }
    return `${repository}:${hash}`;
  }

  /** The artifact as image `<registry>/<project>:v<N>` (built, not yet pushed); returns the tag. */
  async buildImage(req: BuildImageRequest): Promise<string> {
    const base = await this.ensureBaseImage(req.onLine);
    const tag = imageTag(this.o.registry, req.project, req.number);
    const ctx = fs.mkdtempSync(path.join(os.tmpdir(), 'pt-img-'));
    try {
      fs.writeFileSync(path.join(ctx, 'Dockerfile'), deploymentDockerfile(base, req));
      fs.mkdirSync(path.join(ctx, 'paastech', 'process'), { recursive: true });
      fs.writeFileSync(path.join(ctx, 'paastech', 'run'), RUN_SCRIPT, { mode: 0o755 });
      for (const [t, cmd] of Object.entries(req.processes)) {
        fs.writeFileSync(path.join(ctx, 'paastech', 'process', t), cmd, { mode: 0o644 });
      }
      // One tar stream: our files, then the artifact renamed to app/ (owners kept as numbers).
      const tar = tarStream([
        '-c',
        '--numeric-owner',
        '-C',
        ctx,
        'Dockerfile',
        'paastech',
        '-C',
        req.artifactDir,
        '--transform=s,^\\.,app,S',
        '.',
      ]);
      await this.o.docker.build(
        tar.stdout,
        { tag, labels: { 'paastech.project': req.project }, signal: req.signal },
        req.onLine ?? (() => {}),
      );
      await tar.done;
      return tag;
    } finally {
      fs.rmSync(ctx, { recursive: true, force: true });
    }
  }

  /** `docker build` of the repository's Dockerfile, output line by line; returns the tag. */
  async buildFromDockerfile(req: DockerfileBuildRequest): Promise<string> {
    await this.ensureBaseImage();
    const tag = imageTag(this.o.registry, req.project, req.number);
    const dockerfile = req.dockerfile ?? 'Dockerfile';
    if (path.isAbsolute(dockerfile) || dockerfile.split('/').includes('..')) {
      throw new Error(`image: Dockerfile path "${dockerfile}" must stay inside the repository`);
    }
    // The Dockerfile is the tenant's: read without following a symlink, bounded, and checked for
    // images of other projects (dockerfile-refs.ts) before the daemon sees it.
    const text = readBounded(path.join(req.contextDir, dockerfile), 1024 * 1024);
    const platform = await platformRegistryHosts(dockerfileRegistryHosts(text), this.o.registry);
    const problem = dockerfileRefsProblem(text, platform, imageRepository(req.project));
    if (problem) throw new Error(`Dockerfile: ${problem}`);
    const tar = tarStream(['-c', '-C', req.contextDir, '.']);
    await this.o.docker.build(
      tar.stdout,
      {
        tag,
        dockerfile,
        labels: { 'paastech.project': req.project },
        resources: req.resources,
        signal: req.signal,
      },
      req.onLine,
    );
    await tar.done;
    return tag;
  }

  /** Pushes `tag` to its registry; resolves with the manifest digest. */
  pushImage(tag: string): Promise<string> {
    const t = parseTag(tag);
    return this.o.docker.pushImage(`${t.registry}/${t.repository}`, t.tag);
  }

  /** Deletes `tag` from the registry (its manifest) and from this node; true if the registry had it. */
  async removeImage(tag: string): Promise<boolean> {
    const t = parseTag(tag);
    const had = await deleteManifest(t.registry, t.repository, t.tag);
    await this.o.docker.removeImage(tag, true);
    return had;
  }
}

/** A regular file's text, never through a symlink, at most `max` bytes (else an error). */
function readBounded(file: string, max: number): string {
  const fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile()) throw new Error(`image: ${path.basename(file)} is not a regular file`);
    if (st.size > max) throw new Error(`image: ${path.basename(file)} is larger than ${max} bytes`);
    const buf = Buffer.alloc(st.size);
    fs.readSync(fd, buf, 0, st.size, 0);
    return buf.toString('utf8');
  } finally {
    fs.closeSync(fd);
  }
}

/** Spawns tar writing to stdout (argv, no shell); `done` rejects on a non-zero exit. */
function tarStream(args: string[]): { stdout: Readable; done: Promise<void> } {
  const child = spawn('tar', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr.on('data', (b: Buffer) => {
    err = (err + b.toString()).slice(-2000);
  });
  const done = new Promise<void>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve() : reject(new Error(`tar exited with ${code}: ${err.trim()}`)),
    );
  });
  done.catch(() => {});
  return { stdout: child.stdout, done };
}

const MANIFEST_TYPES = [
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.oci.image.index.v1+json',
].join(', ');

/** Registry API v2: resolves tag → digest (HEAD), then DELETEs the manifest; false when absent. */
export async function deleteManifest(registry: string, repository: string, tag: string): Promise<boolean> {
  const head = await registryRequest(
    'HEAD',
    registry,
    `/v2/${repository}/manifests/${encodeURIComponent(tag)}`,
    {
      Accept: MANIFEST_TYPES,
    },
  );
  if (head.status === 404) return false;
  const digest = head.headers['docker-content-digest'];
  if (head.status !== 200 || typeof digest !== 'string') {
    throw new Error(`registry ${registry}: looking up ${repository}:${tag} answered ${head.status}`);
  }
  const del = await registryRequest(
    'DELETE',
    registry,
    `/v2/${repository}/manifests/${encodeURIComponent(digest)}`,
    {},
  );
  if (del.status !== 202 && del.status !== 404) {
    throw new Error(
      `registry ${registry}: deleting ${repository}:${tag} answered ${del.status} ${del.body.slice(0, 200)}`,
    );
  }
  return del.status === 202;
}

/** Lists the tags of a repository in the registry ([] when it has none). */
export async function registryTags(registry: string, repository: string): Promise<string[]> {
  const r = await registryRequest('GET', registry, `/v2/${repository}/tags/list`, {});
  if (r.status === 404) return [];
  if (r.status !== 200) throw new Error(`registry ${registry}: listing ${repository} answered ${r.status}`);
  return (JSON.parse(r.body) as { tags: string[] | null }).tags ?? [];
}

function registryRequest(
  method: string,
  registry: string,
  urlPath: string,
  headers: Record<string, string>,
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(`http://${registry}${urlPath}`, { method, headers, timeout: 30_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        body += c;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error(`registry ${registry}: ${method} ${urlPath} timed out`)));
    req.end();
  });
}
