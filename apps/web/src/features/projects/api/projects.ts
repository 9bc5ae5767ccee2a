// Projects of the account: list, create (the API creates the git repository too), read.
import { api, type Schemas, unwrap } from '../../../shared/api.js';

export type Project = Schemas['ProjectDto'];

/** The account's projects. */
export async function listProjects(): Promise<Project[]> {
  return (await unwrap(api.GET('/api/v1/projects'))).projects;
}

/** Creates a project (and its repository). */
export function createProject(name: string): Promise<Project> {
  return unwrap(api.POST('/api/v1/projects', { body: { name } }));
}

/** One project by name. */
export function getProject(name: string): Promise<Project> {
  return unwrap(api.GET('/api/v1/projects/{name}', { params: { path: { name } } }));
}

export type DeploymentSummary = Schemas['DeploymentDto'];

/** The project's newest deployment, or null before the first push. */
export async function latestDeployment(name: string): Promise<DeploymentSummary | null> {
  const { deployments } = await unwrap(
    api.GET('/api/v1/projects/{name}/deployments', { params: { path: { name } } }),
  );
  return deployments[0] ?? null;
}
