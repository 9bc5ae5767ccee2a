// A project's config vars: read (values included; the page masks them) and changed as one PATCH.
import { api, unwrap } from '../../../shared/api.js';
import type { ConfigChange } from '../config-edit.js';

/** Every config var of the project, name → value. */
export async function getConfig(name: string): Promise<Record<string, string>> {
  return (await unwrap(api.GET('/api/v1/projects/{name}/config', { params: { path: { name } } }))).vars;
}

/** Applies sets and unsets atomically; resolves with the resulting vars. */
export async function changeConfig(name: string, change: ConfigChange): Promise<Record<string, string>> {
  const result = await unwrap(
    api.PATCH('/api/v1/projects/{name}/config', { params: { path: { name } }, body: change }),
  );
  return result.vars;
}
