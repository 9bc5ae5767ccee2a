// Project settings' calls.
import { api, unwrap } from '../../../shared/api.js';

/** Deletes a project, its repository, config vars and domains. */
export async function deleteProject(name: string): Promise<void> {
  await unwrap(api.DELETE('/api/v1/projects/{name}', { params: { path: { name } } }));
}
