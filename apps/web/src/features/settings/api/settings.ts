// Project settings' calls.
import { api, unwrap } from '../../../shared/api.js';
import type { Settings, SettingsChange } from '../settings-form.js';

/** Deletes a project, its repository, config vars and domains. */
export async function deleteProject(name: string): Promise<void> {
  await unwrap(api.DELETE('/api/v1/projects/{name}', { params: { path: { name } } }));
}

/** The project's settings: health check path, builder, egress, limits. */
export function getSettings(name: string): Promise<Settings> {
  return unwrap(api.GET('/api/v1/projects/{name}/settings', { params: { path: { name } } }));
}

/** Saves settings; they apply at the next deployment, egress at once. */
export function saveSettings(name: string, change: SettingsChange): Promise<Settings> {
  return unwrap(api.PATCH('/api/v1/projects/{name}/settings', { params: { path: { name } }, body: change }));
}
