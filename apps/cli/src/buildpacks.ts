// `paastech buildpacks`, `buildpacks:set` and `buildpacks:clear` share how the setting is shown: the
// API's `buildpack` project setting (null = auto-detect). The API checks every value and names the
// rule a bad one breaks, so the CLI passes what was typed.
import { type Schemas, unwrap } from '@paastech/api-client';
import type { Context } from './command.js';

/** What a project builds with, in words. */
export function describeBuildpack(s: Pick<Schemas['SettingsDto'], 'buildpack'>): string {
  if (s.buildpack === null) return 'none: the built-in builders detect how to build (auto-detect)';
  return /^https:\/\//.test(s.buildpack)
    ? `${s.buildpack} (cloned at each build)`
    : `${s.buildpack} (installed on this platform)`;
}

/** The JSON form of the setting (`--json`). */
export function buildpackJson(s: Schemas['SettingsDto']): { buildpack: string | null; applies: string } {
  return { buildpack: s.buildpack, applies: 'the next deployment (a change alone deploys nothing)' };
}

/** The settings of the command's project (`paastech settings` and `paastech buildpacks` show them). */
export function loadSettings(ctx: Context): Promise<Schemas['SettingsDto']> {
  return unwrap(ctx.api.GET('/api/v1/projects/{name}/settings', { params: { path: { name: ctx.project } } }));
}

/** Sets (a string) or clears (null) the buildpack of the command's project; the new settings. */
export function saveBuildpack(ctx: Context, buildpack: string | null): Promise<Schemas['SettingsDto']> {
  return unwrap(
    ctx.api.PATCH('/api/v1/projects/{name}/settings', {
      params: { path: { name: ctx.project } },
      body: { buildpack },
    }),
  );
}

/** Prints the buildpack setting (shown or changed): JSON, or `line` for people. */
export function printChange(ctx: Context, s: Schemas['SettingsDto'], line: string): void {
  if (ctx.json) ctx.out.json(buildpackJson(s));
  else ctx.out.line(line);
}
