// A project's formation (instances per process type), running status and restarts.
import { api, type Schemas, unwrap } from '../../../shared/api.js';

export type ProjectStatus = Schemas['ProjectStatusDto'];

/** The current formation. */
export async function getFormation(name: string): Promise<Record<string, number>> {
  return (await unwrap(api.GET('/api/v1/projects/{name}/formation', { params: { path: { name } } })))
    .formation;
}

/** Scales at once (no new deployment); resolves with the formation after the change. */
export async function setFormation(
  name: string,
  formation: Record<string, number>,
): Promise<Record<string, number>> {
  const result = await unwrap(
    api.PUT('/api/v1/projects/{name}/formation', { params: { path: { name } }, body: { formation } }),
  );
  return result.formation;
}

/** Instances and their state. */
export function getStatus(name: string): Promise<ProjectStatus> {
  return unwrap(api.GET('/api/v1/projects/{name}/status', { params: { path: { name } } }));
}

/** Restarts every instance (web ones one at a time). */
export async function restart(name: string): Promise<void> {
  await unwrap(api.POST('/api/v1/projects/{name}/restart', { params: { path: { name } }, body: {} }));
}
