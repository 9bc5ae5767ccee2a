// A project's deployments: list, one with its build output, its live events, and rollback.
import { api, type Schemas, unwrap } from '../../../shared/api.js';
import { type SseMessage, streamSse } from '../../../shared/sse.js';

export type Deployment = Schemas['DeploymentDto'];
export type DeploymentDetail = Schemas['DeploymentDetailDto'];

/** The project's deployments, newest first. */
export async function listDeployments(name: string): Promise<Deployment[]> {
  return (await unwrap(api.GET('/api/v1/projects/{name}/deployments', { params: { path: { name } } })))
    .deployments;
}

/** Deployment vN with its build output. */
export function getDeployment(name: string, number: number): Promise<DeploymentDetail> {
  return unwrap(
    api.GET('/api/v1/projects/{name}/deployments/{number}', {
      params: { path: { name, number: String(number) } },
    }),
  );
}

/** Creates a new deployment from vN's build and config (default: the previous good one). */
export function rollback(name: string, number?: number): Promise<Deployment> {
  return unwrap(
    api.POST('/api/v1/projects/{name}/rollback', {
      params: { path: { name } },
      body: number ? { number } : {},
    }),
  );
}

/**
 * Follows vN's events (`state`, `step`, `log`) until it ends. The typed client has no streaming
 * calls, so this one URL is written here, next to the typed calls of the same routes.
 */
export function followDeployment(
  name: string,
  number: number,
  onMessage: (m: SseMessage) => void,
  signal: AbortSignal,
): Promise<void> {
  const url = `/api/v1/projects/${encodeURIComponent(name)}/deployments/${number}/events`;
  return streamSse(url, onMessage, signal);
}
