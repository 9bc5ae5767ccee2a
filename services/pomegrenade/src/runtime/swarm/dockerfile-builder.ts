// The `dockerfile` builder (registered by the swarm runtime only, tried before the others): a
// source tree with a Dockerfile at its root is built by the swarm manager's daemon (`docker build`,
// no build args: config vars never enter the image), its output streamed line by line, bounded by
// the build's time limit and, in every RUN step, by its memory (no swap) and CPU limits — the same
// the local build sandbox runs under (buildLimits). The image is tagged as the deployment's
// (`<registry>/<project>:v<N>`); BuildOutput.image tells the orchestrator to push it instead of
// making one from the artifact. Without a Procfile, `web` runs the image's own ENTRYPOINT + CMD in its WORKDIR.
import { hasAppFile } from '../../build/files.js';
import { outOfMemory } from '../../domain/build-runner.js';
import { DeploymentFailedError } from '../../domain/model.js';
import type { BuildContext, Builder, BuildOutput } from '../../domain/ports.js';
import type { DockerClient, ImageInspect } from './docker.js';
import type { ImageBuilder } from './images.js';

const STEP = /^Step \d+\/\d+ : /;
/** The classic builder's words for a RUN step that died of SIGKILL: in a memory-limited step
 * whose build we did not stop, the kernel's OOM killer. */
const KILLED = /returned a non-zero code: 137\b/;

/** A word for /bin/sh, single-quoted (pure). */
export function shellWord(word: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/** The `web` command of an image without a Procfile: its ENTRYPOINT + CMD, exec'd in its WORKDIR
 * (pure); null when the image declares neither. */
export function imageWebCommand(config: ImageInspect['Config']): string | null {
  const argv = [...(config.Entrypoint ?? []), ...(config.Cmd ?? [])];
  if (argv.length === 0) return null;
  const run = `exec ${argv.map(shellWord).join(' ')}`;
  return config.WorkingDir ? `cd ${shellWord(config.WorkingDir)} && ${run}` : run;
}

/** The image's ENV as a map (pure): instances keep its PATH and the like. */
export function imageEnv(config: ImageInspect['Config']): Record<string, string> {
  const env: Record<string, string> = {};
  for (const kv of config.Env ?? []) {
    const i = kv.indexOf('=');
    if (i > 0) env[kv.slice(0, i)] = kv.slice(i + 1);
  }
  return env;
}

export class DockerfileBuilder implements Builder {
  readonly name = 'dockerfile';

  constructor(
    private readonly images: ImageBuilder,
    private readonly docker: DockerClient,
  ) {}

  async detect(appDir: string): Promise<boolean> {
    return hasAppFile(appDir, 'Dockerfile');
  }

  async build(ctx: BuildContext): Promise<BuildOutput> {
    ctx.step('Building with Dockerfile');
    const timeout = new AbortController();
    const timer = setTimeout(() => timeout.abort(), Math.max(0, ctx.deadline - Date.now()));
    let step = '';
    let tag: string;
    try {
      tag = await this.images.buildFromDockerfile({
        contextDir: ctx.appDir,
        project: ctx.projectId,
        number: ctx.number,
        resources: ctx.limits,
        signal: AbortSignal.any([ctx.signal, timeout.signal]),
        onLine: (l) => {
          if (STEP.test(l)) step = l;
          ctx.info(l);
        },
      });
    } catch (err) {
      if (ctx.signal.aborted) throw new DeploymentFailedError({ reason: 'internal', message: 'cancelled' });
      if (timeout.signal.aborted) {
        throw new DeploymentFailedError({
          reason: 'build_timed_out',
          message: `the build ran past its time limit (docker build${step ? ` at ${step}` : ''})`,
        });
      }
      const detail = (err as Error).message.replace(/^docker POST \/build: (\d+ )?/, '');
      const at = step ? ` at ${step}` : '';
      const message = KILLED.test(detail)
        ? `docker build ${outOfMemory(ctx.limits.memoryBytes, at)}: ${detail}`
        : `docker build failed${at}: ${detail}`;
      throw new DeploymentFailedError({ reason: 'build_failed', message });
    } finally {
      clearTimeout(timer);
    }
    const image = await this.docker.inspectImage(tag);
    if (!image) throw new DeploymentFailedError({ reason: 'internal', message: `image ${tag} vanished` });
    const web = imageWebCommand(image.Config);
    return { defaultProcesses: web ? { web } : {}, env: imageEnv(image.Config), image: tag };
  }
}
