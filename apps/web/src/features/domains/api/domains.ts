// A project's domains: list, add, remove.
import { api, type Schemas, unwrap } from '../../../shared/api.js';

export type Domain = Schemas['DomainDto'];

/** The project's custom domains. */
export async function listDomains(name: string): Promise<Domain[]> {
  return (await unwrap(api.GET('/api/v1/projects/{name}/domains', { params: { path: { name } } }))).domains;
}

/** Routes `hostname` to the project. */
export function addDomain(name: string, hostname: string): Promise<Domain> {
  return unwrap(
    api.POST('/api/v1/projects/{name}/domains', { params: { path: { name } }, body: { hostname } }),
  );
}

/** Stops routing `hostname` to the project. */
export async function removeDomain(name: string, hostname: string): Promise<void> {
  await unwrap(
    api.DELETE('/api/v1/projects/{name}/domains/{hostname}', { params: { path: { name, hostname } } }),
  );
}
