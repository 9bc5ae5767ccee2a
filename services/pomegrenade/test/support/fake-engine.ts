// An Engine wired to a FakeRuntime, a source that writes an empty archive and a builder that writes
// the Procfile the test chose: the engine's logic without sandboxes or git.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createLogger } from '@paastech/kit';
import type { SourceFetcher } from '../../src/domain/build-runner.js';
import { Engine, type EngineSettings, type NewDeployment } from '../../src/domain/engine.js';
import type { DeploymentRecord } from '../../src/domain/model.js';
import type { Builder } from '../../src/domain/ports.js';
import { FakeRuntime } from '../../src/runtime/fake-runtime.js';
import { LogBook } from '../../src/store/log-book.js';
import { StateStore } from '../../src/store/state.js';

export const SETTINGS: EngineSettings = {
  sandbox: 'bwrap',
  maxConcurrentBuilds: 2,
  buildTimeoutSeconds: 60,
  keepBuilds: 3,
  healthTimeoutSeconds: 2,
  drainSeconds: 0,
  stopGraceSeconds: 1,
  maxInstancesPerProject: 10,
  appUidBase: 210_000,
  buildpacksDir: '/nonexistent',
};

/** Builder writing `procfiles[commit]` (default: a web process) as the app's Procfile. */
export class ScriptedBuilder implements Builder {
  readonly name = 'scripted';
  procfiles = new Map<string, string>();
  delayMs = 0;
  fail = new Set<string>();
  async detect(): Promise<boolean> {
    return true;
  }
  async build(
    ctx: Parameters<Builder['build']>[0],
  ): Promise<{ defaultProcesses: Record<string, string>; env: Record<string, string> }> {
    const commit = ctx.configVars.COMMIT ?? '';
    if (this.delayMs) await new Promise((r) => setTimeout(r, this.delayMs));
    ctx.info(`building with secret ${ctx.configVars.SECRET ?? ''}`);
    if (this.fail.has(commit)) await ctx.exec(['false']);
    fs.writeFileSync(path.join(ctx.appDir, 'Procfile'), this.procfiles.get(commit) ?? 'web: serve\n');
    return { defaultProcesses: {}, env: {} };
  }
}

export const emptySource: SourceFetcher = {
  async fetch(_req, dest) {
    dest.end();
  },
};

export interface FakeEngine {
  engine: Engine;
  runtime: FakeRuntime;
  builder: ScriptedBuilder;
  dataDir: string;
  reopen(): Promise<FakeEngine>;
}

/** Creates an engine over a (new or given) data dir. */
export async function fakeEngine(
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pg-')),
  settings: Partial<EngineSettings> = {},
): Promise<FakeEngine> {
  const runtime = new FakeRuntime();
  runtime.behaviour = (spec) =>
    spec.source === 'build' || spec.source === 'release'
      ? { exitCode: spec.argv.includes('false') ? 1 : 0 }
      : {};
  const builder = new ScriptedBuilder();
  const store = new StateStore(path.join(dataDir, 'pomegrenade'), path.join(dataDir, 'keys'));
  const logs = new LogBook(store.projectsDir());
  const engine = new Engine({
    runtime,
    builders: [builder],
    source: emptySource,
    store,
    logs: (id) => logs.get(id),
    forgetLogs: (id) => logs.forget(id),
    logger: createLogger('test', { level: 'silent', format: 'json' }),
    settings: { ...SETTINGS, ...settings },
  });
  await engine.recover();
  return { engine, runtime, builder, dataDir, reopen: () => fakeEngine(dataDir, settings) };
}

let commitCounter = 0;

/** A deployment request with sensible defaults. */
export function request(
  projectId: string,
  number: number,
  extra: Partial<NewDeployment> = {},
): NewDeployment {
  commitCounter++;
  return {
    projectId,
    projectName: projectId.toLowerCase().replace(/[^a-z0-9-]/g, '-'),
    number,
    commitSha: commitCounter.toString(16).padStart(40, 'a'),
    source: { kind: 'git', refName: 'refs/heads/main' },
    configVars: {},
    formation: {},
    domains: [`${projectId}.localhost`],
    httpsRedirect: false,
    builder: '',
    buildpackUrl: '',
    buildTimeoutSeconds: 0,
    healthCheckPath: '/',
    healthTimeoutSeconds: 0,
    limits: {},
    egressDisabled: false,
    ...extra,
  };
}

/** Waits until the deployment reaches one of `states` (polling), returns it. */
export async function waitFor(
  engine: Engine,
  projectId: string,
  number: number,
  states: DeploymentRecord['state'][],
  timeoutMs = 15_000,
): Promise<DeploymentRecord> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const d = engine.getDeployment(projectId, number);
    if (states.includes(d.state)) return d;
    if (Date.now() > deadline)
      throw new Error(
        `v${number} stayed ${d.state} (wanted ${states.join('/')}): ${d.failure?.message ?? ''}`,
      );
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Polls `check` until it returns true. */
export async function eventually(
  check: () => boolean | Promise<boolean>,
  timeoutMs = 10_000,
  what = 'condition',
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
